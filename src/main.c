/*
 * main.c - one run of smtpot: read the settings, open the sinks, find the
 * peer, serve one session on fd 0/1, exit. Operator errors end the run
 * before the banner with a sysexits code; everything a client does ends
 * with status 0, so attackers cannot pile up failed units.
 */
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base64.h"
#include "clock.h"
#include "config.h"
#include "conn.h"
#include "event.h"
#include "peer.h"
#include "resume.h"
#include "sandbox.h"
#include "session.h"
#include "sink.h"
#include "tls.h"

#define EX_USAGE 64
#define EX_NOINPUT 66
#define EX_SOFTWARE 70
#define EX_OSERR 71
#define EX_CONFIG 78

static void on_signal(int sig)
{
	conn_stop(sig);
}

static void signals(void)
{
	struct sigaction sa;
	sigset_t set;

	if (conn_stop_init() < 0) {
		perror("smtpot: eventfd");
		exit(EX_OSERR);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	/* No SA_RESTART: a signal must interrupt a blocked read or write. */
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	/* Blocked by smtpot across the exec of the TLS module: any pending one comes now. */
	conn_stop_sigset(&set);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
}

/* Under inetd-style launchers fd 2 may be the client socket: never talk to it. */
static void guard_stderr(void)
{
	struct stat s0, s2;

	if (fstat(2, &s2) < 0 || (fstat(0, &s0) == 0 && s0.st_dev == s2.st_dev && s0.st_ino == s2.st_ino)) {
		int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);

		if (fd >= 0 && fd != 2) {
			dup2(fd, 2);
			close(fd);
		}
	}
}

/*
 * $INVOCATION_ID when systemd started this process for this connection
 * (its parent is the service manager, PID 1), else 128 random bits. A
 * launcher that systemd started itself (xinetd) passes its own id on to
 * every child: that one must not be taken, or all sessions would share it.
 */
static void session_id(char out[40])
{
	const char *inv = getenv("INVOCATION_ID");
	unsigned char r[16];

	if (inv != NULL && getppid() == 1 && strlen(inv) == 32 && strspn(inv, "0123456789abcdef") == 32) {
		memcpy(out, inv, 33);
		return;
	}
	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
		perror("smtpot: getrandom");
		exit(EX_OSERR);
	}
	hex_encode(r, sizeof(r), out);
}

/* The sinks cfg asks for; 0, or -1 without memory. */
static int open_sinks(struct event_ctx *ev, const struct config *cfg)
{
	if (cfg->log_file != NULL)
		event_add_sink(ev, sink_file_open(cfg->log_file));
	if (cfg->journal)
		event_add_sink(ev, sink_journal_open());
	if (cfg->log_file == NULL && !cfg->journal)
		event_add_sink(ev, sink_file_fd(2, 0, "standard error"));
	for (int i = 0; i < ev->nsinks; i++) {
		if (ev->sinks[i] == NULL)
			return -1;
	}
	return 0;
}

/*
 * In smtpot-tls executed at STARTTLS: the state smtpot left, or NULL when
 * this is a session of its own. (A program without TLS given this, as a
 * --tls-module that is not smtpot-tls would be, logs why and ends the
 * session.) Unreadable state is the program's fault.
 */
static const struct resume *resumed(void)
{
	static struct resume r;
	const char *text = getenv(RESUME_ENV);

	if (text == NULL)
		return NULL;
	if (resume_parse(text, &r) < 0) {
		fprintf(stderr, "smtpot: unreadable %s\n", RESUME_ENV);
		exit(EX_SOFTWARE);
	}
	unsetenv(RESUME_ENV);
	return &r;
}

/*
 * smtpot-tls goes on under the filter smtpot installed, which may still
 * allow executing descriptor 63: the strict filter goes on top at once.
 * The session counts as confined only if both programs were.
 */
static void confine_again(struct session *s)
{
	int confined = sandbox_apply(0) == 0;

	if (!confined || strcmp(s->sandbox, "seccomp") != 0)
		s->sandbox = "unavailable";
}

/* SIGALRM 5 s after the session's deadline (which smtpot-tls takes over from smtpot). */
static void backstop(const struct session *s)
{
	int64_t left = s->conn->session_deadline - clock_mono_ms();

	alarm((unsigned)(left > 0 ? (left + 999) / 1000 : 0) + 5);
}

int main(int argc, char **argv)
{
	static struct event_ctx ev;
	static struct session s;
	struct config cfg;
	struct conn conn;
	struct peer peer;
	const struct resume *r;

	/*
	 * Grow the heap in one step: a short session otherwise extends it with
	 * brk(2) two or three times. Untouched pages cost no memory.
	 */
#ifdef M_TOP_PAD
	mallopt(M_TOP_PAD, 512 * 1024);
#endif
	guard_stderr();
	r = resumed();
	config_defaults(&cfg);
	switch (config_parse(&cfg, argc, argv)) {
	case CONFIG_OK:
		break;
	case CONFIG_EXIT_OK:
		config_free(&cfg);
		return 0;
	case CONFIG_USAGE:
		config_free(&cfg);
		return EX_USAGE;
	case CONFIG_BAD_FILE:
		config_free(&cfg);
		return EX_CONFIG;
	case CONFIG_NO_FILE:
		config_free(&cfg);
		return EX_NOINPUT;
	}
	if (strcmp(cfg.tls, "implicit") == 0 &&
	    (cfg.tls_cert == NULL || cfg.tls_key == NULL || access(cfg.tls_cert, R_OK) != 0 ||
	     access(cfg.tls_key, R_OK) != 0)) {
		fprintf(stderr, "smtpot: --tls=implicit needs a readable --tls-cert and --tls-key\n");
		config_free(&cfg);
		return EX_CONFIG;
	}
	/* Implicit TLS is smtpot-tls's from the first byte. */
	if (r == NULL)
		tls_exec_implicit(&cfg, argv);
	signals();
	if (r != NULL ? resume_sinks(r, &ev) < 0 : open_sinks(&ev, &cfg) < 0) {
		perror("smtpot: sink");
		return EX_OSERR;
	}

	peer_lookup(0, &peer);
	memcpy(ev.source_ip, peer.source_ip, sizeof(ev.source_ip));
	memcpy(ev.dest_ip, peer.dest_ip, sizeof(ev.dest_ip));
	ev.source_port = peer.source_port;
	ev.dest_port = peer.dest_port;
	ev.sensor = cfg.sensor;
	session_id(ev.session);

	conn_init_fd(&conn, 0, 1);
	if (session_init(&s, &cfg, &conn, &ev) < 0) {
		perror("smtpot: session");
		return EX_OSERR;
	}
	if (r != NULL) {
		resume_apply(r, &s);
		confine_again(&s);
	}
	/* Backstop for a write blocked by a client that never reads: the deadline, plus 5 s. */
	backstop(&s);
	if (r != NULL) {
		tls_resumed(&s);
		session_continue(&s);
	} else {
		s.confine = sandbox_apply;
		session_run(&s);
	}
	session_free(&s);
	event_close_sinks(&ev);
	config_free(&cfg);
	return 0;
}
