/*
 * conn.h - the one I/O layer between the client and the protocol code.
 * Every read waits on two deadlines (idle per read, whole session) and
 * stops early on a termination signal; every write is complete or fails.
 * The operations are pointers so that a TLS layer or a test can stand in.
 */
#ifndef SMTPOT_CONN_H
#define SMTPOT_CONN_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum conn_status {
	CONN_OK = 0,
	CONN_EOF,
	CONN_IDLE_TIMEOUT,
	CONN_SESSION_TIMEOUT,
	CONN_SIGNAL,
	CONN_ERROR,
};

struct conn;

struct conn_ops {
	ssize_t (*read)(struct conn *c, void *buf, size_t n);
	ssize_t (*write)(struct conn *c, const void *buf, size_t n);
	/* 1 when bytes are already buffered below us (poll would not see them). */
	int (*pending)(struct conn *c);
	/* Like poll(2) on one descriptor: 1 ready, 0 timeout, -1 error. */
	int (*wait)(struct conn *c, short events, int timeout_ms);
	/* Ends the layer (TLS close_notify) and frees it; NULL when nothing to do. */
	void (*close)(struct conn *c);
};

struct conn {
	const struct conn_ops *ops;
	void *ctx;
	int rfd, wfd;
	int stop_fd;   /* the stop eventfd, polled beside rfd/wfd; -1: none */
	int is_socket; /* wfd is a socket: writes never block (MSG_DONTWAIT) */
	int64_t idle_ms;          /* 0: no idle limit */
	int64_t session_deadline; /* monotonic ms; 0: none */
	enum conn_status status;  /* why the last call returned <= 0 */
	uint64_t bytes_in, bytes_out;
};

/* Set by the SIGTERM/SIGINT/SIGHUP handler; every wait gives up when set. */
extern volatile sig_atomic_t conn_stop_signal;

/*
 * The stop eventfd: a signal handler adds to it, and every wait polls
 * it beside the client descriptor, so a signal that lands just before a
 * poll(2) is not missed. conn_stop_init makes it (once, at start-up).
 */
int conn_stop_init(void);
/* For signal handlers: records sig and wakes any wait. Async-signal-safe. */
void conn_stop(int sig);

void conn_init_fd(struct conn *c, int rfd, int wfd);
/*
 * The signals that stop a session (TERM, INT, HUP, ALRM): main installs
 * their handler and unblocks them; the hand-over to the TLS module blocks
 * them across the exec, so one that comes then waits for the new handler.
 */
void conn_stop_sigset(sigset_t *set);

/* 1 (and status set) when a signal asked the session to stop. */
int conn_stopped(struct conn *c);
/* Waits until ready for events (POLLIN/POLLOUT) within the deadlines: 0, or -1 with status. */
int conn_wait(struct conn *c, short events);
/* > 0 bytes read; 0 with status CONN_EOF; -1 with status set. */
ssize_t conn_read(struct conn *c, void *buf, size_t n);
/* 0 when all n bytes were written; -1 with status set. */
int conn_write_all(struct conn *c, const void *buf, size_t n);
/* Ends the layer over the descriptors (which stay open) and frees it. */
void conn_close(struct conn *c);

#endif
