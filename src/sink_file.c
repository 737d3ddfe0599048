/*
 * sink_file.c - JSON lines appended with one write(2) per event on an
 * O_APPEND descriptor: concurrent sessions never interleave inside a line,
 * and renaming the file for rotation needs no signal (the next session
 * opens the new name). A short write (a full disk) is a loss: it is
 * counted, reported once, and the fragment is cut off again when nothing
 * was appended after it. One limit remains: SIGKILL can stop a write of
 * several pages between two pages, leaving the killed session's event cut,
 * and the next event appended then continues that line (no signal that
 * smtpot handles does this). Looking at the file's last byte to start a
 * new line was tried and dropped: a concurrent append that crosses a page
 * is seen half done, which made blank lines.
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
};

static int file_write(struct sink *s, const struct event_record *r)
{
	struct file_ctx *f = s->ctx;
	ssize_t w;

	if (f->fd < 0) {
		sink_failed(s, "cannot open", f->open_errno);
		return -1;
	}
	/* The record ends in its newline already: one write, no copy. */
	do
		w = write(f->fd, r->json, r->len + 1);
	while (w < 0 && errno == EINTR);
	if (w == (ssize_t)(r->len + 1))
		return 0;
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
	s->kind = "file";
	s->fd = fd;
	s->open_errno = err;
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

struct sink *sink_file_fd(int fd, int err, const char *name)
{
	return file_sink(fd, err, name);
}
