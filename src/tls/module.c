/*
 * module.c - the OpenSSL side of TLS, linked only into smtpot-tls. The
 * socket is made non-blocking so every wait goes through the session's
 * deadlines. The ClientHello is copied as it is read (a BIO callback), so
 * the session can fingerprint exactly what the client sent. Nothing here
 * logs: results go back in struct tls_result.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "../tls.h"

struct tls_conn {
	SSL *ssl;
	int rfd, wfd;
};

static void error_text(char *out, size_t cap, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[200];

	if (e != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		snprintf(out, cap, "%s: %s", what, buf);
	} else {
		snprintf(out, cap, "%s", what);
	}
	ERR_clear_error();
}

static void *server_new(const char *cert, const char *key, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL) {
		error_text(err, errlen, "SSL_CTX_new");
		return NULL;
	}
	/* Accept what clients offer, down to TLS 1.0, as a mail server does. */
	SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
	SSL_CTX_set_security_level(ctx, 0);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		error_text(err, errlen, "certificate");
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		error_text(err, errlen, "private key");
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* Copies what OpenSSL reads, up to the capture's room: the ClientHello first. */
static long capture(BIO *b, int oper, const char *argp, size_t len, int argi, long argl, int ret,
		    size_t *processed)
{
	struct tls_result *res = (struct tls_result *)BIO_get_callback_arg(b);

	(void)len, (void)argi, (void)argl;
	if (oper == (BIO_CB_READ | BIO_CB_RETURN) && ret > 0 && processed != NULL && res != NULL) {
		size_t k = *processed;

		if (k > res->hello_cap - res->hello_len)
			k = res->hello_cap - res->hello_len;
		memcpy(res->hello + res->hello_len, argp, k);
		res->hello_len += k;
	}
	return ret;
}

static ssize_t t_read(struct conn *c, void *buf, size_t n)
{
	struct tls_conn *t = c->ctx;
	int r = SSL_read(t->ssl, buf, n > 1 << 30 ? 1 << 30 : (int)n);

	if (r > 0)
		return r;
	switch (SSL_get_error(t->ssl, r)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		if (errno == 0 || errno == ECONNRESET)
			return 0; /* the peer went away without close_notify */
		return -1;
	default:
		/* OpenSSL 3 reports a missing close_notify this way: still an end. */
		if (ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
			ERR_clear_error();
			return 0;
		}
		errno = EPROTO;
		return -1;
	}
}

static ssize_t t_write(struct conn *c, const void *buf, size_t n)
{
	struct tls_conn *t = c->ctx;
	int r = SSL_write(t->ssl, buf, n > 1 << 30 ? 1 << 30 : (int)n);

	if (r > 0)
		return r;
	switch (SSL_get_error(t->ssl, r)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		errno = EAGAIN;
		return -1;
	default:
		if (errno == 0)
			errno = EPIPE;
		return -1;
	}
}

static int t_pending(struct conn *c)
{
	struct tls_conn *t = c->ctx;

	return SSL_pending(t->ssl) > 0;
}

/* Like the plain wait: the client descriptor and the stop pipe. */
static int t_wait(struct conn *c, short events, int timeout_ms)
{
	struct tls_conn *t = c->ctx;
	struct pollfd p[2] = {
		{ .fd = events == POLLIN ? t->rfd : t->wfd, .events = events },
		{ .fd = c->stop_fd, .events = POLLIN },
	};
	int r = poll(p, c->stop_fd >= 0 ? 2 : 1, timeout_ms);

	if (r > 0 && p[0].revents == 0) {
		errno = EINTR;
		return -1;
	}
	return r;
}

/* Sends close_notify once, without waiting for the client's, and frees. */
static void t_close(struct conn *c)
{
	struct tls_conn *t = c->ctx;

	(void)SSL_shutdown(t->ssl);
	SSL_free(t->ssl);
	free(t);
}

static const struct conn_ops tls_ops = {
	.read = t_read, .write = t_write, .pending = t_pending, .wait = t_wait, .close = t_close,
};

static int tls_accept(void *server, struct conn *c, int (*wait)(struct conn *c, short events),
		      struct tls_result *res)
{
	struct tls_conn *t = calloc(1, sizeof(*t));
	BIO *rb, *wb;
	int r;

	if (t == NULL) {
		snprintf(res->error, sizeof(res->error), "out of memory");
		return -1;
	}
	t->rfd = c->rfd;
	t->wfd = c->wfd;
	t->ssl = SSL_new(server);
	rb = BIO_new_fd(c->rfd, BIO_NOCLOSE);
	/* SSL_set_bio takes a single reference when both are the same BIO. */
	wb = c->wfd == c->rfd ? rb : BIO_new_fd(c->wfd, BIO_NOCLOSE);
	if (t->ssl == NULL || rb == NULL || wb == NULL) {
		error_text(res->error, sizeof(res->error), "SSL_new");
		free(t);
		return -1;
	}
	BIO_set_callback_arg(rb, (char *)res);
	BIO_set_callback_ex(rb, capture);
	SSL_set_bio(t->ssl, rb, wb);
	fcntl(c->rfd, F_SETFL, fcntl(c->rfd, F_GETFL) | O_NONBLOCK);
	if (c->wfd != c->rfd)
		fcntl(c->wfd, F_SETFL, fcntl(c->wfd, F_GETFL) | O_NONBLOCK);

	while ((r = SSL_accept(t->ssl)) != 1) {
		int e = SSL_get_error(t->ssl, r);

		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			struct conn probe = *c;

			probe.ops = &tls_ops;
			probe.ctx = t;
			if (wait(&probe, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT) < 0) {
				c->status = probe.status;
				snprintf(res->error, sizeof(res->error), "handshake: %s",
					 probe.status == CONN_IDLE_TIMEOUT || probe.status == CONN_SESSION_TIMEOUT ?
						 "timeout" : "interrupted");
				goto fail;
			}
			continue;
		}
		if ((e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) ||
		    ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
			ERR_clear_error();
			snprintf(res->error, sizeof(res->error), "handshake: connection closed");
		} else {
			error_text(res->error, sizeof(res->error), "handshake");
		}
		goto fail;
	}
	BIO_set_callback_ex(rb, NULL);
	snprintf(res->version, sizeof(res->version), "%s", SSL_get_version(t->ssl));
	snprintf(res->cipher, sizeof(res->cipher), "%s", SSL_get_cipher_name(t->ssl));
	{
		const char *sni = SSL_get_servername(t->ssl, TLSEXT_NAMETYPE_host_name);
		const unsigned char *alpn = NULL;
		unsigned alen = 0;

		snprintf(res->sni, sizeof(res->sni), "%s", sni != NULL ? sni : "");
		SSL_get0_alpn_selected(t->ssl, &alpn, &alen);
		if (alen >= sizeof(res->alpn))
			alen = sizeof(res->alpn) - 1;
		if (alen > 0)
			memcpy(res->alpn, alpn, alen);
		res->alpn[alen] = '\0';
	}
	c->ops = &tls_ops;
	c->ctx = t;
	return 0;
fail:
	BIO_set_callback_ex(rb, NULL);
	SSL_free(t->ssl);
	free(t);
	return -1;
}

static void server_free(void *server)
{
	SSL_CTX_free(server);
}

static const struct tls_module module = {
	.abi = TLS_MODULE_ABI,
	.server_new = server_new,
	.server_free = server_free,
	.accept = tls_accept,
};

const struct tls_module *smtpot_tls_module(void)
{
	return &module;
}

/*
 * What makes a program smtpot-tls to smtpot: an ELF note (name "smtpot",
 * type TLS_NOTE_TYPE, the interface number as its 4 bytes), which smtpot
 * reads from the program headers before it offers to run it.
 */
#define STR_(x) #x
#define STR(x) STR_(x)
__asm__(".pushsection .note.smtpot, \"a\", @note\n"
	"\t.balign 4\n"
	"\t.long 7\n"
	"\t.long 4\n"
	"\t.long " STR(TLS_NOTE_TYPE) "\n"
	"\t.asciz \"smtpot\"\n"
	"\t.balign 4\n"
	"\t.long " STR(TLS_MODULE_ABI) "\n"
	"\t.popsection\n");
