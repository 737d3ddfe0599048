/*
 * sink_journal.c - events to the systemd journal, in journald's native
 * protocol: one datagram of "FIELD=value\n" lines to
 * /run/systemd/journal/socket, or, when it is too big for a datagram, a
 * sealed memfd passed over the same socket. This is what sd_journal_sendv
 * sends; speaking it here spares each per-connection process the mapping
 * of libsystemd and its six libraries (measured at about 350 us of CPU,
 * half the cost of a whole do-nothing session). No value holds a newline
 * (the JSON has its control characters escaped), so the simple form of
 * the protocol always applies.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "sink.h"

#define JOURNAL_SOCKET "/run/systemd/journal/socket"

struct journal_ctx {
	int fd;
	int open_errno;
	struct sockaddr_un sa;
};

static const int priorities[] = { 6, 4, 3 }; /* INFO, WARN, ERROR */
static const char *const levels[] = { "INFO", "WARN", "ERROR" };

/* Too big for one datagram: the same bytes in a sealed memfd (as libsystemd does). */
static int send_memfd(struct journal_ctx *j, const struct iovec *iov, int n)
{
	char control[CMSG_SPACE(sizeof(int))];
	struct msghdr mh;
	struct cmsghdr *cmsg;
	int mfd = memfd_create("journal-data", MFD_ALLOW_SEALING | MFD_CLOEXEC);
	ssize_t total = 0, w;
	int rc = -1;

	if (mfd < 0)
		return -1;
	for (int i = 0; i < n; i++)
		total += (ssize_t)iov[i].iov_len;
	w = writev(mfd, iov, n);
	if (w == total && fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) == 0) {
		memset(&mh, 0, sizeof(mh));
		memset(control, 0, sizeof(control));
		mh.msg_name = &j->sa;
		mh.msg_namelen = sizeof(j->sa);
		mh.msg_control = control;
		mh.msg_controllen = sizeof(control);
		cmsg = CMSG_FIRSTHDR(&mh);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cmsg), &mfd, sizeof(int));
		rc = sendmsg(j->fd, &mh, MSG_NOSIGNAL) < 0 ? -1 : 0;
	} else if (w >= 0) {
		errno = EIO;
	}
	{
		int saved = errno;

		close(mfd);
		errno = saved;
	}
	return rc;
}

static int journal_write(struct sink *s, const struct event_record *r)
{
	struct journal_ctx *j = s->ctx;
	char fields[512];
	struct iovec iov[2];
	struct msghdr mh;
	int n;

	if (j->fd < 0) {
		sink_failed(s, "cannot open the journal socket", j->open_errno);
		return -1;
	}
	/* MESSAGE= goes into the headroom; the text already ends in its newline. */
	memcpy(r->json - EVENT_HEADROOM, "MESSAGE=", EVENT_HEADROOM);
	iov[0].iov_base = r->json - EVENT_HEADROOM;
	iov[0].iov_len = r->len + EVENT_HEADROOM + 1;
	n = snprintf(fields, sizeof(fields),
		     "PRIORITY=%d\nMESSAGE_ID=%s\nSYSLOG_IDENTIFIER=smtpot\nSMTPOT_EVENT=%s\n"
		     "SMTPOT_SESSION=%s\nSMTPOT_SEQ=%llu\nSMTPOT_SOURCE_IP=%s\nSMTPOT_LEVEL=%s\n",
		     priorities[r->level], r->message_id, r->name, r->session, (unsigned long long)r->seq,
		     r->source_ip, levels[r->level]);
	if (n < 0 || (size_t)n >= sizeof(fields)) {
		sink_failed(s, "fields", EOVERFLOW);
		return -1;
	}
	iov[1].iov_base = fields;
	iov[1].iov_len = (size_t)n;
	memset(&mh, 0, sizeof(mh));
	mh.msg_name = &j->sa;
	mh.msg_namelen = sizeof(j->sa);
	mh.msg_iov = iov;
	mh.msg_iovlen = 2;
	if (sendmsg(j->fd, &mh, MSG_NOSIGNAL) >= 0)
		return 0;
	if ((errno == EMSGSIZE || errno == ENOBUFS) && send_memfd(j, iov, 2) == 0)
		return 0;
	sink_failed(s, "send to " JOURNAL_SOCKET, errno);
	return -1;
}

static void journal_close(struct sink *s)
{
	struct journal_ctx *j = s->ctx;

	if (j->fd >= 0)
		close(j->fd);
	free(j);
	free(s);
}

static struct sink *journal_sink(int fd, int err)
{
	struct sink *s = calloc(1, sizeof(*s));
	struct journal_ctx *j = calloc(1, sizeof(*j));

	if (s == NULL || j == NULL) {
		free(s);
		free(j);
		return NULL;
	}
	j->fd = fd;
	j->open_errno = err;
	j->sa.sun_family = AF_UNIX;
	memcpy(j->sa.sun_path, JOURNAL_SOCKET, sizeof(JOURNAL_SOCKET));
	s->name = "journal";
	s->write = journal_write;
	s->close = journal_close;
	s->ctx = j;
	s->kind = "journal";
	s->fd = fd;
	s->open_errno = err;
	return s;
}

struct sink *sink_journal_open(void)
{
	int sndbuf = 8 * 1024 * 1024;
	/* The socket is made now, before the sandbox refuses new sockets. */
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sink *s = journal_sink(fd, fd < 0 ? errno : 0);

	if (fd >= 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	if (s == NULL && fd >= 0)
		close(fd);
	return s;
}

struct sink *sink_journal_fd(int fd, int err)
{
	return journal_sink(fd, err);
}
