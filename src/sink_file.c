/*
 * sink_file.c - JSON lines appended with one write(2) per event on an
 * O_APPEND descriptor: concurrent sessions never interleave inside a line,
 * and renaming the file for rotation needs no signal (the next session
 * opens the new name). A short write is a loss: it is counted, reported
 * once, and the line is closed so the next event starts on its own line.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sink.h"

struct file_ctx {
	int fd;
	int open_errno;
	char *buf;
	size_t cap;
};

static int file_write(struct sink *s, const struct event_record *r)
{
	struct file_ctx *f = s->ctx;
	ssize_t w;

	if (f->fd < 0) {
		sink_failed(s, "cannot open", f->open_errno);
		return -1;
	}
	if (r->len + 1 > f->cap) {
		char *nb = realloc(f->buf, r->len + 1);

		if (nb == NULL) {
			sink_failed(s, "out of memory", ENOMEM);
			return -1;
		}
		f->buf = nb;
		f->cap = r->len + 1;
	}
	memcpy(f->buf, r->json, r->len);
	f->buf[r->len] = '\n';
	do
		w = write(f->fd, f->buf, r->len + 1);
	while (w < 0 && errno == EINTR);
	if (w == (ssize_t)(r->len + 1))
		return 0;
	if (w >= 0) {
		/* A torn line: end it, so that only this event is lost. */
		(void)!write(f->fd, "\n", 1);
		sink_failed(s, "short write", ENOSPC);
	} else {
		sink_failed(s, "write", errno);
	}
	return -1;
}

static void file_close(struct sink *s)
{
	struct file_ctx *f = s->ctx;

	if (f->fd > 2)
		close(f->fd);
	free(f->buf);
	free(f);
	free(s);
}

static struct sink *file_sink(int fd, int err, const char *name)
{
	struct sink *s = calloc(1, sizeof(*s));
	struct file_ctx *f = calloc(1, sizeof(*f));

	if (s == NULL || f == NULL) {
		free(s);
		free(f);
		return NULL;
	}
	f->fd = fd;
	f->open_errno = err;
	s->name = name;
	s->write = file_write;
	s->close = file_close;
	s->ctx = f;
	return s;
}

struct sink *sink_file_open(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);

	return file_sink(fd, fd < 0 ? errno : 0, "log file");
}

struct sink *sink_file_fd(int fd, const char *name)
{
	return file_sink(fd, 0, name);
}
