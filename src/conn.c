/*
 * conn.c - blocking reads and writes on the client descriptors, bounded by
 * an idle deadline per call and a session deadline, both monotonic.
 * A stop signal (SIGTERM, the session alarm, a sandbox refusal) wakes any
 * wait through an eventfd, however close to the poll(2) it lands, and
 * writes to a socket never block, so the session can always log its end.
 */
#include "conn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"

volatile sig_atomic_t conn_stop_signal;
/* Readable once a stop signal came: one descriptor, cheaper than a pipe. */
static int stop_fd = -1;

int conn_stop_init(void)
{
	if (stop_fd < 0)
		stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	return stop_fd < 0 ? -1 : 0;
}

void conn_stop(int sig)
{
	static const uint64_t one = 1;
	int saved = errno;

	conn_stop_signal = sig;
	if (stop_fd >= 0)
		(void)!write(stop_fd, &one, sizeof(one));
	errno = saved;
}

void conn_stop_sigset(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGALRM);
}

static ssize_t fd_read(struct conn *c, void *buf, size_t n)
{
	return read(c->rfd, buf, n);
}

static ssize_t fd_write(struct conn *c, const void *buf, size_t n)
{
	/* A client that never reads must not hold us in write(2): wait in poll. */
	if (c->is_socket)
		return send(c->wfd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
	return write(c->wfd, buf, n);
}

static int fd_pending(struct conn *c)
{
	(void)c;
	return 0;
}

static int fd_wait(struct conn *c, short events, int timeout_ms)
{
	struct pollfd p[2] = {
		{ .fd = events == POLLIN ? c->rfd : c->wfd, .events = events },
		{ .fd = c->stop_fd, .events = POLLIN },
	};
	int r = poll(p, c->stop_fd >= 0 ? 2 : 1, timeout_ms);

	if (r > 0 && p[0].revents == 0) {
		errno = EINTR; /* only the stop eventfd: the caller looks at the flag */
		return -1;
	}
	return r;
}

static const struct conn_ops fd_ops = {
	.read = fd_read,
	.write = fd_write,
	.pending = fd_pending,
	.wait = fd_wait,
	.close = NULL,
};

void conn_close(struct conn *c)
{
	if (c->ops->close != NULL)
		c->ops->close(c);
	c->ops = &fd_ops;
	c->ctx = NULL;
}

void conn_init_fd(struct conn *c, int rfd, int wfd)
{
	c->ops = &fd_ops;
	c->ctx = NULL;
	c->rfd = rfd;
	c->wfd = wfd;
	c->stop_fd = stop_fd;
	{
		struct stat st;

		c->is_socket = wfd >= 0 && fstat(wfd, &st) == 0 && S_ISSOCK(st.st_mode);
	}
	c->idle_ms = 0;
	c->session_deadline = 0;
	c->status = CONN_OK;
	c->bytes_in = 0;
	c->bytes_out = 0;
}

int conn_stopped(struct conn *c)
{
	if (!conn_stop_signal)
		return 0;
	/* SIGALRM is the backstop for the session deadline. */
	c->status = conn_stop_signal == SIGALRM ? CONN_SESSION_TIMEOUT : CONN_SIGNAL;
	return 1;
}

int conn_wait(struct conn *c, short events)
{
	int64_t start = clock_mono_ms();
	int64_t idle_end = c->idle_ms > 0 ? start + c->idle_ms : 0;

	for (;;) {
		int64_t now = clock_mono_ms(), left = -1;
		int r;

		if (conn_stopped(c))
			return -1;
		if (c->session_deadline > 0) {
			if (now >= c->session_deadline) {
				c->status = CONN_SESSION_TIMEOUT;
				return -1;
			}
			left = c->session_deadline - now;
		}
		if (idle_end > 0) {
			if (now >= idle_end) {
				c->status = CONN_IDLE_TIMEOUT;
				return -1;
			}
			if (left < 0 || idle_end - now < left)
				left = idle_end - now;
		}
		if (left > 60000 || left < 0)
			left = left < 0 ? -1 : 60000;
		r = c->ops->wait(c, events, (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR) {
			c->status = CONN_ERROR;
			return -1;
		}
	}
}

ssize_t conn_read(struct conn *c, void *buf, size_t n)
{
	for (;;) {
		ssize_t r;

		if (!c->ops->pending(c) && conn_wait(c, POLLIN) < 0)
			return -1;
		r = c->ops->read(c, buf, n);
		if (r > 0) {
			c->bytes_in += (uint64_t)r;
			return r;
		}
		if (r == 0) {
			c->status = CONN_EOF;
			return 0;
		}
		if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
			continue;
		if (errno == ECONNRESET) {
			c->status = CONN_EOF;
			return 0;
		}
		c->status = CONN_ERROR;
		return -1;
	}
}

int conn_write_all(struct conn *c, const void *buf, size_t n)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t w = c->ops->write(c, p, n);

		if (w > 0) {
			p += w;
			n -= (size_t)w;
			c->bytes_out += (uint64_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR && !conn_stop_signal)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (conn_wait(c, POLLOUT) < 0)
				return -1;
			continue;
		}
		if (w < 0 && errno == EINTR)
			c->status = conn_stop_signal == SIGALRM ? CONN_SESSION_TIMEOUT : CONN_SIGNAL;
		else
			c->status = CONN_ERROR;
		return -1;
	}
	return 0;
}
