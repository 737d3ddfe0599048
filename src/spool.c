/*
 * spool.c - temporary file, then link(2) to the final name. link fails with
 * EEXIST when the same message is already stored, which is how duplicates
 * are found without a race. Names are made from the digest and a counter,
 * never from client text. Files are 0600.
 */
#include "spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

int spool_open_dir(struct spool *s, const char *dir)
{
	s->fd = -1;
	s->fill = 0;
	s->err = 0;
	s->err_what = NULL;
	s->buf = NULL;
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

int spool_begin(struct spool *s)
{
	unsigned char r[8];

	s->fill = 0;
	s->err = 0;
	s->err_what = NULL;
	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
		fail(s, "spool name");
		return -1;
	}
	snprintf(s->tmpname, sizeof(s->tmpname), ".tmp.%d.%02x%02x%02x%02x%02x%02x%02x%02x",
		 (int)getpid(), r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
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

	if (s->fd < 0 || s->err != 0)
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
	if (s->fd < 0)
		return;
	close(s->fd);
	s->fd = -1;
	unlinkat(s->dirfd, s->tmpname, 0);
}

int spool_commit(struct spool *s, const char hex[65], char name[80])
{
	int rc, e;

	snprintf(name, 80, "%s.eml", hex);
	if (s->fd < 0)
		return -1;
	spool_drain(s);
	if (close(s->fd) < 0)
		fail(s, "spool close");
	s->fd = -1;
	if (s->err != 0) {
		unlinkat(s->dirfd, s->tmpname, 0);
		return -1;
	}
	rc = linkat(s->dirfd, s->tmpname, s->dirfd, name, 0);
	e = rc < 0 ? errno : 0;
	unlinkat(s->dirfd, s->tmpname, 0);
	if (rc == 0)
		return 0;
	if (e == EEXIST)
		return 1;
	errno = e;
	fail(s, "spool link");
	return -1;
}
