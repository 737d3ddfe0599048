/*
 * tls.h - TLS for smtpot: STARTTLS on 25/587 and implicit TLS on 465.
 * OpenSSL lives only in the TLS module, smtpot-tls: the same program
 * linked dynamically with src/tls/module.c, which smtpot (static, no TLS
 * code) executes in its own place when a session starts TLS, so plain
 * sessions never load a library. The module switches the conn to TLS reads
 * and writes, so the line reader, DATA and the timeouts work the same over
 * TLS.
 */
#ifndef SMTPOT_TLS_H
#define SMTPOT_TLS_H

#include <stddef.h>

#include <json-c/json.h>

#include "conn.h"

#define TLS_MODULE_ABI 1
#define TLS_NOTE_TYPE 0x534d /* the ELF note that marks smtpot-tls (src/tls/module.c) */

/* What a handshake tells, filled by the module. */
struct tls_result {
	char version[32];
	char cipher[128];
	char sni[256];
	char alpn[64]; /* negotiated protocol, if any */
	char error[256];
	unsigned char *hello; /* the raw ClientHello records, as sent */
	size_t hello_len, hello_cap;
};

/* The module's whole interface. */
struct tls_module {
	unsigned abi;
	/* Loads the certificate and key; NULL and err on failure. */
	void *(*server_new)(const char *cert, const char *key, char *err, size_t errlen);
	void (*server_free)(void *server);
	/*
	 * Handshakes on c's descriptors; wait() bounds every wait with c's
	 * deadlines. On success c reads and writes through TLS from now on.
	 * 0 on success, -1 with res->error on failure.
	 */
	int (*accept)(void *server, struct conn *c, int (*wait)(struct conn *c, short events),
		      struct tls_result *res);
};

/* The symbol the module exports. */
const struct tls_module *smtpot_tls_module(void);

struct session;
struct config;

/* 1 in smtpot-tls (TLS runs here), 0 in smtpot (TLS means executing smtpot-tls). */
int tls_in_process(void);
/*
 * Before the sandbox, in smtpot with STARTTLS offered: puts smtpot-tls on
 * SANDBOX_EXEC_FD. 1 when it is there (the sandbox must let it run).
 */
int tls_stage(const struct session *s);
/* With --tls=implicit in smtpot: executes smtpot-tls with argv; returns if it could not. */
void tls_exec_implicit(const struct config *c, char **argv);
/* In smtpot-tls run by STARTTLS: the handshake the 220 reply announced. */
void tls_resumed(struct session *s);

/* 1 when TLS can be offered (mode and readable certificate and key). */
int tls_usable(const struct session *s);
/* The STARTTLS command. */
void tls_starttls(struct session *s, const char *arg, size_t n, json_object *d);
/* Implicit TLS: the handshake before the banner. 0, or -1 (session ended). */
int tls_implicit(struct session *s);
/* Frees what TLS set up for the process (at exit). */
void tls_cleanup(void);

#endif
