/*
 * spool.c - a message is kept in a buffer; when it outgrows the buffer it
 * goes on to a temporary file. At the end the temporary file is renamed to
 * its final name with RENAME_NOREPLACE (or linked, where the file system
 * cannot do that), which fails with EEXIST when the same message is already
 * stored: that is how duplicates are found without a race. A message that
 * ended inside the buffer is first looked up under its final name, so a
 * duplicate costs one lookup. Names are made from the digest, the session's
 * id and a counter, never from client text. Files are 0600.
 */
#include "spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

int spool_open_dir(struct spool *s, const char *dir, const char *tag)
{
	s->fd = -1;
	s->fill = 0;
	s->err = 0;
	s->err_what = NULL;
	s->buf = NULL;
	snprintf(s->tag, sizeof(s->tag), "%s", tag);
	s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	/* Another session may create it between our open and our mkdir. */
	if (s->dirfd < 0 && errno == ENOENT && (mkdir(dir, 0700) == 0 || errno == EEXIST))
		s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0)
		return -1;
	s->buf = malloc(SPOOL_BUFFER_SIZE);
	if (s->buf == NULL) {
		close(s->dirfd);
		s->dirfd = -1;
		return -1;
	}
	return 0;
}

void spool_close_dir(struct spool *s)
{
	spool_abort(s);
	if (s->dirfd >= 0)
		close(s->dirfd);
	s->dirfd = -1;
	free(s->buf);
	s->buf = NULL;
}

static void fail(struct spool *s, const char *what)
{
	if (s->err == 0) {
		s->err = errno != 0 ? errno : EIO;
		s->err_what = what;
	}
}

void spool_begin(struct spool *s)
{
	spool_abort(s);
	s->fill = 0;
	s->err = 0;
	s->err_what = NULL;
	s->count++;
}

/* The temporary file, made when it is first needed. 0 or -1 (s->err). */
static int create_tmp(struct spool *s)
{
	snprintf(s->tmpname, sizeof(s->tmpname), ".tmp.%s.%lu", s->tag, s->count);
	s->fd = openat(s->dirfd, s->tmpname, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		       0600);
	if (s->fd < 0) {
		fail(s, "spool create");
		return -1;
	}
	return 0;
}

/* Writes all of p[0..n) to the temporary file; the first failure is kept. */
static void put_all(struct spool *s, const char *p, size_t n)
{
	if (s->fd < 0 && s->err == 0)
		create_tmp(s);
	while (n > 0 && s->err == 0) {
		ssize_t w = write(s->fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = ENOSPC;
			fail(s, "spool write");
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

static void spool_drain(struct spool *s)
{
	put_all(s, s->buf, s->fill);
	s->fill = 0;
}

void spool_write(struct spool *s, const void *p, size_t n)
{
	const char *c = p;

	if (s->dirfd < 0 || s->err != 0)
		return;
	/* Big pieces skip the copy when the buffer is empty. */
	if (s->fill == 0 && n >= SPOOL_BUFFER_SIZE) {
		put_all(s, c, n);
		return;
	}
	while (n > 0) {
		size_t take = SPOOL_BUFFER_SIZE - s->fill < n ? SPOOL_BUFFER_SIZE - s->fill : n;

		memcpy(s->buf + s->fill, c, take);
		s->fill += take;
		c += take;
		n -= take;
		if (s->fill == SPOOL_BUFFER_SIZE)
			spool_drain(s);
	}
}

void spool_abort(struct spool *s)
{
	s->fill = 0;
	if (s->fd < 0)
		return;
	close(s->fd);
	s->fd = -1;
	unlinkat(s->dirfd, s->tmpname, 0);
}

/* Gives the temporary file its final name: 0, or -1 with errno (EEXIST when
 * a file has that name). The temporary name is gone afterwards. */
#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

static int publish(struct spool *s, const char *name)
{
	int rc, e;

	/* The system call itself: not every C library wraps renameat2. */
	if (syscall(SYS_renameat2, s->dirfd, s->tmpname, s->dirfd, name, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno == EINVAL || errno == ENOSYS)
		/* No RENAME_NOREPLACE here: link(2) also refuses an existing name. */
		rc = linkat(s->dirfd, s->tmpname, s->dirfd, name, 0);
	else
		rc = -1;
	e = errno;
	unlinkat(s->dirfd, s->tmpname, 0);
	errno = e;
	return rc;
}

int spool_commit(struct spool *s, const char hex[65], char name[80])
{
	struct stat st;

	snprintf(name, 80, "%s.eml", hex);
	if (s->dirfd < 0)
		return -1;
	if (s->fd < 0 && s->err == 0 &&
	    fstatat(s->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		s->fill = 0;
		return 1;
	}
	spool_drain(s);
	if (s->fd >= 0 && close(s->fd) < 0)
		fail(s, "spool close");
	s->fd = -1;
	if (s->err != 0) {
		unlinkat(s->dirfd, s->tmpname, 0);
		return -1;
	}
	if (publish(s, name) == 0)
		return 0;
	if (errno == EEXIST)
		return 1;
	fail(s, "spool link");
	return -1;
}
