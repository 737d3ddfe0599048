/*
 * tls.c - the session side of TLS: STARTTLS (RFC 3207) and implicit TLS.
 * Bytes pipelined after STARTTLS in the same plaintext read are never
 * executed: they are logged and dropped. After the handshake the session
 * forgets everything (EHLO is needed again, AUTH too).
 *
 * smtpot itself is linked statically and holds no TLS code: a plain
 * session then costs no dynamic loading at all. The TLS module,
 * smtpot-tls, is the same program linked with OpenSSL (src/tls/module.c).
 * At STARTTLS smtpot executes it in its own place, on the same connection,
 * with the session's state in SMTPOT_RESUME (resume.c); for implicit TLS
 * it does so before the session starts. In smtpot-tls the module's symbol
 * is present and TLS runs in-process.
 */
#include "tls.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base64.h"
#include "config.h"
#include "limits.h"
#include "resume.h"
#include "sandbox.h"
#include "session.h"
#include "text.h"
#include "tlsfp.h"

/* Present only in smtpot-tls, where src/tls/module.c is linked in. */
extern const struct tls_module *smtpot_tls_module(void) __attribute__((weak));

static const struct tls_module *module;
static void *server;
/* In smtpot: smtpot-tls on SANDBOX_EXEC_FD, put there before the sandbox; -1 with why. */
static int module_fd = -1;
static char module_error[256] = "cannot run the TLS module";

int tls_in_process(void)
{
	return smtpot_tls_module != NULL;
}

int tls_usable(const struct session *s)
{
	const struct config *c = s->cfg;

	return strcmp(c->tls, "no") != 0 && c->tls_cert != NULL && c->tls_key != NULL &&
	       access(c->tls_cert, R_OK) == 0 && access(c->tls_key, R_OK) == 0;
}

/* Executes the program on fd; returns on failure. The system call: musl does not wrap it. */
static void run_module(int fd, char **argv)
{
	syscall(SYS_execveat, fd, "", argv, environ, AT_EMPTY_PATH);
}

/* 1 when the ELF file on fd carries smtpot-tls's note (src/tls/module.c). */
static int has_module_note(int fd)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph[32];
	unsigned char notes[512];

	if (pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh) || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 || eh.e_phnum > 32 ||
	    pread(fd, ph, eh.e_phnum * sizeof(ph[0]), (off_t)eh.e_phoff) !=
		    (ssize_t)(eh.e_phnum * sizeof(ph[0])))
		return 0;
	for (int i = 0; i < eh.e_phnum; i++) {
		size_t n = ph[i].p_filesz < sizeof(notes) ? ph[i].p_filesz : sizeof(notes);
		size_t o = 0;

		if (ph[i].p_type != PT_NOTE || pread(fd, notes, n, (off_t)ph[i].p_offset) != (ssize_t)n)
			continue;
		while (o + sizeof(Elf64_Nhdr) <= n) {
			Elf64_Nhdr nh;
			size_t name = o + sizeof(nh), desc;

			memcpy(&nh, notes + o, sizeof(nh));
			desc = name + ((nh.n_namesz + 3) & ~3u);
			if (desc + nh.n_descsz > n)
				break;
			if (nh.n_type == TLS_NOTE_TYPE && nh.n_namesz == 7 &&
			    memcmp(notes + name, "smtpot", 7) == 0 && nh.n_descsz == 4) {
				uint32_t abi;

				memcpy(&abi, notes + desc, 4);
				return abi == TLS_MODULE_ABI;
			}
			o = desc + ((nh.n_descsz + 3) & ~3u);
		}
	}
	return 0;
}

/* path, if it is smtpot-tls: a regular, executable ELF file with its note. */
static int open_program(const char *path)
{
	struct stat st;
	int fd;

	if (access(path, X_OK) < 0)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || !has_module_note(fd)) {
		close(fd);
		errno = ENOEXEC;
		return -1;
	}
	return fd;
}

static void cannot_run(char *err, size_t errlen, const char *path, int e)
{
	snprintf(err, errlen, "cannot run the TLS module %s: %s", path,
		 e == ENOEXEC ? "not smtpot-tls" : strerror(e));
}

/*
 * The TLS module: the configured path, else smtpot-tls beside the program
 * (a build tree). A descriptor, or -1 with err.
 */
static int open_module(const char *path, char *err, size_t errlen)
{
	char self[4096];
	ssize_t n;
	int fd = open_program(path);

	if (fd >= 0)
		return fd;
	cannot_run(err, errlen, path, errno);
	n = readlink("/proc/self/exe", self, sizeof(self) - 32);
	if (n > 0) {
		char *slash;

		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash != NULL) {
			snprintf(slash + 1, sizeof(self) - (size_t)(slash + 1 - self), "smtpot-tls");
			fd = open_program(self);
		}
	}
	return fd;
}

/*
 * Before the sandbox: the module on SANDBOX_EXEC_FD, the one descriptor
 * the filter lets smtpot execute (and keeps from being closed or
 * replaced). It stays open across the exec, so that in smtpot-tls, still
 * under that filter, no file of its own can land there and need a close
 * the filter refuses. A failure here makes STARTTLS a 454.
 */
static int stage_module(const struct session *s, char *err, size_t errlen)
{
	int fd = open_module(s->cfg->tls_module, err, errlen);

	if (fd < 0)
		return -1;
	if (fd != SANDBOX_EXEC_FD) {
		int in_use = fcntl(SANDBOX_EXEC_FD, F_GETFD) >= 0;
		int moved = !in_use && dup2(fd, SANDBOX_EXEC_FD) == SANDBOX_EXEC_FD;
		int e = errno;

		close(fd);
		if (!moved) {
			snprintf(err, errlen, "cannot run the TLS module: descriptor %d%s%s", SANDBOX_EXEC_FD,
				 in_use ? " is in use" : ": ", in_use ? "" : strerror(e));
			return -1;
		}
	}
	if (fcntl(SANDBOX_EXEC_FD, F_SETFD, 0) < 0) {
		snprintf(err, errlen, "cannot run the TLS module: descriptor %d: %s", SANDBOX_EXEC_FD,
			 strerror(errno));
		return -1;
	}
	return SANDBOX_EXEC_FD;
}

/* In smtpot-tls: loads the certificate once. 0, or -1 with err. */
static int prepare(const struct session *s, char *err, size_t errlen)
{
	if (server != NULL)
		return 0;
	if (module == NULL) {
		if (!tls_in_process()) {
			snprintf(err, errlen, "the TLS module is not smtpot-tls: this program has no TLS");
			return -1;
		}
		module = smtpot_tls_module();
		if (module == NULL || module->abi != TLS_MODULE_ABI) {
			snprintf(err, errlen, "TLS module: wrong interface");
			module = NULL;
			return -1;
		}
	}
	server = module->server_new(s->cfg->tls_cert, s->cfg->tls_key, err, errlen);
	return server != NULL ? 0 : -1;
}

/*
 * Whether TLS can start: in smtpot-tls, the certificate loaded; in smtpot,
 * the module ready to run (staged). 0, or -1 with err.
 */
static int ready(const struct session *s, int staged, char *err, size_t errlen)
{
	if (tls_in_process())
		return prepare(s, err, errlen);
	if (staged)
		return 0;
	snprintf(err, errlen, "%s", module_error);
	return -1;
}

static void fingerprint(json_object *d, const struct tls_result *res)
{
	struct client_hello ch;
	char ja3[4096], md5[33], ja4[40];
	char *b64;

	size_t n = tlsfp_hello_length(res->hello, res->hello_len);

	if (n == 0)
		return;
	if (tlsfp_parse(res->hello, n, &ch) == 0) {
		tlsfp_ja3(&ch, ja3, sizeof(ja3), md5);
		tlsfp_ja4(&ch, ja4);
		text_add(d, "ja3", json_object_new_string(ja3));
		text_add(d, "ja3_md5", json_object_new_string(md5));
		text_add(d, "ja4", json_object_new_string(ja4));
		if (ch.has_sni)
			text_put_str(d, "client_sni", ch.sni);
		if (ch.has_alpn)
			text_put(d, "client_alpn", ch.alpn, ch.alpn_len);
	} else {
		text_add(d, "client_hello_parsed", json_object_new_boolean(0));
	}
	b64 = malloc(BASE64_LEN(n) + 1);
	if (b64 != NULL) {
		base64_encode(res->hello, n, b64);
		text_add(d, "client_hello_b64", json_object_new_string(b64));
		free(b64);
	}
}

/* Handshakes and writes the tls event (with extra, a reply, if given). 0 or -1. */
static int handshake(struct session *s, const char *mode, int banner)
{
	struct tls_result res;
	json_object *d = json_object_new_object();
	int rc;

	memset(&res, 0, sizeof(res));
	res.hello_cap = CLIENT_HELLO_MAX;
	res.hello = malloc(res.hello_cap);
	if (res.hello == NULL)
		res.hello_cap = 0;
	rc = module->accept(server, s->conn, conn_wait, &res);
	text_add(d, "mode", json_object_new_string(mode));
	text_add(d, "result", json_object_new_string(rc == 0 ? "success" : "failure"));
	if (rc == 0) {
		text_add(d, "version", json_object_new_string(res.version));
		text_add(d, "cipher", json_object_new_string(res.cipher));
		text_put_str(d, "sni", res.sni);
		if (res.alpn[0] != '\0')
			text_put_str(d, "alpn", res.alpn);
	} else {
		text_add(d, "error", json_object_new_string(res.error));
	}
	fingerprint(d, &res);
	free(res.hello);
	if (rc == 0) {
		s->tls_active = 1;
		if (banner) {
			reply_fmt(&s->rp, 220, "%s %s", s->cfg->hostname, s->cfg->banner);
			session_add_reply(s, d);
		}
	}
	event_emit(s->ev, EV_TLS, d);
	if (rc < 0) {
		if (s->conn->status == CONN_IDLE_TIMEOUT || s->conn->status == CONN_SESSION_TIMEOUT)
			session_timeout(s, "tls");
		else
			session_end(s, s->conn->status == CONN_SIGNAL ? "signal" : "tls_failed");
	}
	return rc;
}

static void starttls_handshake(struct session *s)
{
	if (handshake(s, "starttls", 0) == 0)
		session_reset(s); /* RFC 3207 4.2: forget all that came before */
}

static void after_starttls(struct session *s)
{
	if (reply_flush(&s->rp) < 0) {
		session_end(s, "write_error");
		return;
	}
	starttls_handshake(s);
}

/*
 * Hands the session to smtpot-tls; returns only when that failed. The
 * stop signals are blocked across the exec: one that comes now stays
 * pending until smtpot-tls has its handler, and one that came already
 * ends the session here.
 */
static void exec_starttls(struct session *s)
{
	char state[RESUME_MAX];
	char **argv = NULL;
	sigset_t stop, old;
	int err;

	if (reply_flush(&s->rp) < 0) {
		session_end(s, "write_error");
		return;
	}
	conn_stop_sigset(&stop);
	sigprocmask(SIG_BLOCK, &stop, &old);
	if (conn_stopped(s->conn)) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		return; /* the session loop ends it, as after any command */
	}
	argv = config_argv(s->cfg, "smtpot-tls");
	if (argv == NULL || resume_save(s, state, sizeof(state)) < 0) {
		err = argv == NULL ? ENOMEM : EOVERFLOW;
	} else if (resume_keep_fds(s) < 0 || setenv(RESUME_ENV, state, 1) < 0) {
		err = errno;
	} else {
		run_module(module_fd, argv);
		err = errno;
		unsetenv(RESUME_ENV);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	config_argv_free(argv);
	session_error(s, "cannot run the TLS module", err);
	session_end(s, "tls_unavailable");
}

void tls_resumed(struct session *s)
{
	char err[256];

	if (prepare(s, err, sizeof(err)) < 0) {
		session_error(s, err, EIO);
		session_end(s, "tls_unavailable");
		return;
	}
	starttls_handshake(s);
}

int tls_stage(const struct session *s)
{
	if (tls_in_process() || strcmp(s->cfg->tls, "starttls") != 0 || !tls_usable(s))
		return 0;
	module_fd = stage_module(s, module_error, sizeof(module_error));
	return module_fd >= 0;
}

void tls_exec_implicit(const struct config *c, char **argv)
{
	int fd;

	if (tls_in_process() || strcmp(c->tls, "implicit") != 0)
		return;
	fd = open_module(c->tls_module, module_error, sizeof(module_error));
	if (fd < 0)
		return;
	run_module(fd, argv);
	/* Left to the session: it logs why TLS is unavailable and ends. */
	cannot_run(module_error, sizeof(module_error), c->tls_module, errno);
	close(fd);
}

void tls_starttls(struct session *s, const char *arg, size_t n, json_object *d)
{
	char err[256];
	const unsigned char *rest;
	size_t nrest;

	while (n > 0 && (arg[n - 1] == ' ' || arg[n - 1] == '\t'))
		n--;
	if (s->tls_active) {
		reply_line(&s->rp, 554, 0, "5.5.1 Error: TLS already active");
		return;
	}
	if (!tls_usable(s) || strcmp(s->cfg->tls, "starttls") != 0) {
		reply_line(&s->rp, 502, 0, "5.5.1 Error: command not implemented");
		return;
	}
	if (n > 0) {
		reply_line(&s->rp, 501, 0, "5.5.4 Syntax: STARTTLS");
		return;
	}
	if (ready(s, module_fd >= 0, err, sizeof(err)) < 0) {
		reply_line(&s->rp, 454, 0, "4.7.0 TLS not available due to local problem");
		session_error(s, err, EIO);
		return;
	}
	reply_line(&s->rp, 220, 0, "2.0.0 Ready to start TLS");
	/* Whatever came with STARTTLS is plaintext injection: never executed. */
	line_discard(&s->lr, &rest, &nrest);
	if (nrest > 0) {
		session_flag(d, "pipelined_after_starttls");
		text_put(d, "injected", rest, nrest);
	}
	s->after = tls_in_process() ? after_starttls : exec_starttls;
}

int tls_implicit(struct session *s)
{
	char err[256];

	if (ready(s, 0, err, sizeof(err)) < 0) {
		session_error(s, err, EIO);
		session_end(s, "tls_unavailable");
		return -1;
	}
	return handshake(s, "implicit", 1);
}

void tls_cleanup(void)
{
	if (server != NULL)
		module->server_free(server);
	server = NULL;
	/* module_fd stays open: the filter refuses to close it. */
}
