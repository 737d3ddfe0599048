/*
 * limits.h - every default and every hard bound of smtpot in one place.
 * Defaults can be changed by options; hard bounds cannot, and keep every
 * buffer finite whatever a client sends or an operator configures.
 */
#ifndef SMTPOT_LIMITS_H
#define SMTPOT_LIMITS_H

#define SMTPOT_VERSION "0.1.0"

/* Defaults of the options (see smtpot(8)). */
#define DEFAULT_BANNER "ESMTP Postfix (Debian/GNU)"
#define DEFAULT_SPOOL_DIR "/var/lib/smtpot"
#define DEFAULT_MAX_LINE_LENGTH 2048
#define DEFAULT_MAX_MESSAGE_SIZE 10240000
#define DEFAULT_MAX_RECIPIENTS 100
#define DEFAULT_MAX_COMMANDS 1000
#define DEFAULT_MAX_ERRORS 20
#define DEFAULT_IDLE_TIMEOUT 300
#define DEFAULT_SESSION_TIMEOUT 1800
#define DEFAULT_MAX_AUTH_TRIES 10
#ifndef DEFAULT_TLS_MODULE
#define DEFAULT_TLS_MODULE "/usr/local/lib/smtpot/smtpot-tls"
#endif

/* Ranges accepted for the options. */
#define MIN_LINE_LENGTH 512 /* RFC 5321 4.5.3.1.4 command line */
#define MAX_LINE_LENGTH (1024 * 1024)
#define MAX_MESSAGE_SIZE ((unsigned long long)1 << 40)
#define MAX_TIMEOUT (7 * 24 * 3600)

/* Hard bounds. */
#define INPUT_BUFFER_SIZE 65536   /* bytes read from the client at once */
#define REPLY_BUFFER_SIZE 8192    /* replies kept before a write */
#define SPOOL_BUFFER_SIZE 65536   /* message bytes kept before a write */
#define TEXT_FIELD_MAX 2048       /* bytes of client text kept in one field */
#define HEADER_BLOCK_MAX 65536    /* header bytes examined per message */
#define HEADER_FIELD_MAX 1024     /* bytes kept of one decoded header */
#define RECEIVED_MAX 16           /* Received: headers kept per message */
#define SMUGGLE_RECORD_MAX 16     /* dot-line anomalies recorded by offset */
#define PARAMS_MAX 16             /* MAIL/RCPT parameters logged */
#define BODY_LINE_MAX 998         /* RFC 5322 2.1.1 line limit, excluding CRLF */
#define HOSTNAME_MAX 255
#define CONFIG_LINE_MAX 4096
#define AUTH_FIELD_MAX 1024       /* bytes of a decoded AUTH answer kept */
#define CLIENT_HELLO_MAX 16384    /* bytes of a TLS ClientHello kept for fingerprints */
#define TLSFP_LIST_MAX 128        /* ciphers, extensions, ... kept per ClientHello */
#define MIME_LINE_MAX 8192        /* bytes of a message line the MIME scanner holds */
#define MIME_DEPTH 8              /* nested multiparts followed */
#define MIME_BOUNDARY_MAX 80      /* RFC 2046 allows 70 */
#define MIME_ATTACHMENTS_MAX 32   /* attachments listed per message */
#define EVENT_SINKS_MAX 4

#endif
