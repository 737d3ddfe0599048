/*
 * sink_file.c - JSON lines appended with one write(2) per event on an
 * O_APPEND descriptor: concurrent sessions never interleave inside a line,
 * and renaming the file for rotation needs no signal (the next session
 * opens the new name). A short write (a full disk) is a loss: it is
 * counted, reported once, and the fragment is cut off again when nothing
 * was appended after it. One limit remains: SIGKILL can stop a write of
 * several pages between two pages, leaving the killed session's event cut
 * (no signal that smtpot handles does this). A session's first event
 * starts on a new line when the file does not end with one, so the next
 * session never glues its events to such a fragment.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sink.h"

struct file_ctx {
	int fd;
	int open_errno;
	int checked; /* the file's tail was looked at (first event) */
};

/* 1 when a regular file does not end with a newline (a killed writer's fragment). */
static int torn_tail(int fd)
{
	struct stat st;
	char last;

	return fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
	       pread(fd, &last, 1, st.st_size - 1) == 1 && last != '\n';
}

static int file_write(struct sink *s, const struct event_record *r)
{
	struct file_ctx *f = s->ctx;
	ssize_t w;

	if (f->fd < 0) {
		sink_failed(s, "cannot open", f->open_errno);
		return -1;
	}
	/* The record ends in its newline already: one write, no copy. */
	if (!f->checked) {
		f->checked = 1;
		if (torn_tail(f->fd)) {
			r->json[-1] = '\n'; /* in the headroom: still one write */
			do
				w = write(f->fd, r->json - 1, r->len + 2);
			while (w < 0 && errno == EINTR);
			if (w == (ssize_t)(r->len + 2))
				return 0;
			goto failed;
		}
	}
	do
		w = write(f->fd, r->json, r->len + 1);
	while (w < 0 && errno == EINTR);
	if (w == (ssize_t)(r->len + 1))
		return 0;
failed:
	if (w > 0) {
		struct stat st;
		off_t end = lseek(f->fd, 0, SEEK_CUR);

		/* Our fragment ends at `end`; cut it if it is still the file's tail. */
		if (end >= w && fstat(f->fd, &st) == 0 && st.st_size == end)
			(void)!ftruncate(f->fd, end - w);
		sink_failed(s, "short write", ENOSPC);
	} else if (w == 0) {
		sink_failed(s, "write", ENOSPC);
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
	/* Read access only to look at the last byte (torn_tail); write-only will do. */
	int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);

	if (fd < 0 && errno == EACCES)
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);

	return file_sink(fd, fd < 0 ? errno : 0, "log file");
}

struct sink *sink_file_fd(int fd, const char *name)
{
	return file_sink(fd, 0, name);
}
