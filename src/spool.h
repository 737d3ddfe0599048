/*
 * spool.h - raw message bytes to disk. Bytes go to a temporary file that is
 * given its final name, "<sha256>.eml", only when the message is complete,
 * so no reader ever sees a partial file under a final name. A message
 * already stored is noted as a duplicate and not written twice. A message
 * that fits in the buffer touches the disk only at the end, with one write,
 * and not at all when it is a duplicate.
 */
#ifndef SMTPOT_SPOOL_H
#define SMTPOT_SPOOL_H

#include <stddef.h>

#include "limits.h"

struct spool {
	int dirfd;
	int fd; /* temporary file, -1 while the message fits in buf */
	char tag[33]; /* the session's id: temporary names without a random call */
	unsigned long count; /* messages begun, for the temporary name */
	char tmpname[64];
	char *buf; /* SPOOL_BUFFER_SIZE bytes, allocated with the directory */
	size_t fill;
	int err; /* first errno of this message, 0 if none */
	const char *err_what;
};

/*
 * Opens the directory (created 0700 if missing). tag (up to 32 characters of
 * [0-9a-f]) makes this process's temporary names unique, with count, which
 * is the caller's: zero for a new session, the messages begun so far when
 * smtpot-tls goes on with one. -1 with errno on failure.
 */
int spool_open_dir(struct spool *s, const char *dir, const char *tag);
void spool_close_dir(struct spool *s);
/* Starts a message. Nothing is created until the buffer fills or the message
 * is committed. */
void spool_begin(struct spool *s);
/* Appends bytes; failures are remembered, not returned per call. */
void spool_write(struct spool *s, const void *p, size_t n);
/*
 * Stores the message as "<hex>.eml". Returns 0 stored, 1 duplicate (already
 * there), -1 failure (s->err). The temporary file is gone afterwards.
 */
int spool_commit(struct spool *s, const char hex[65], char name[80]);
/* Drops a message being written. */
void spool_abort(struct spool *s);

#endif
