/*
 * sandbox_probe.c - an LD_PRELOAD library for the sandbox test. smtpot
 * draws the 5 random bytes of a queue id with getrandom() when a message
 * starts, long after setup; at that call the probe tries what injected
 * code would (open a socket, connect out) and writes the outcome to
 * $SMTPOT_PROBE_OUT, then tries to run a program: execve, execveat of
 * another descriptor, and execveat of descriptor 63, the one smtpot hands
 * its TLS module over with (first putting /bin/true there, which the
 * filter smtpot installs for STARTTLS refuses; smtpot-tls adds a filter
 * that refuses any exec), and last sets up an io_uring, whose operations
 * would not pass the filter.
 * smtpot itself is linked statically, so the probe goes into smtpot-tls:
 * run directly, or executed by smtpot at STARTTLS (LD_PRELOAD comes along).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

ssize_t getrandom(void *buf, size_t n, unsigned flags)
{
	const char *out = getenv("SMTPOT_PROBE_OUT");

	if (n == 5 && out != NULL) {
		char line[240];
		int s, e1, c = -2, e2 = 0, fd, x1, x2, x3, e3, e4, e5, d, u, e6;
		unsigned char params[120] = { 0 }; /* struct io_uring_params */
		char *const argv[] = { "true", NULL };
		struct sockaddr_in sin;

		errno = 0;
		s = socket(AF_INET, SOCK_STREAM, 0);
		e1 = errno;
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons(9);
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		errno = 0;
		c = connect(s >= 0 ? s : 0, (struct sockaddr *)&sin, sizeof(sin));
		e2 = errno;
		errno = 0;
		x1 = execve("/bin/true", argv, environ);
		e3 = errno;
		fd = open("/bin/true", O_PATH | O_CLOEXEC);
		errno = 0;
		x2 = (int)syscall(SYS_execveat, fd, "", argv, environ, AT_EMPTY_PATH);
		e4 = errno;
		d = fd >= 0 ? dup2(fd, 63) : -2;
		errno = 0;
		x3 = (int)syscall(SYS_execveat, 63, "", argv, environ, AT_EMPTY_PATH);
		e5 = errno;
		if (fd >= 0)
			close(fd);
		errno = 0;
		u = (int)syscall(SYS_io_uring_setup, 1, params);
		e6 = errno;
		snprintf(line, sizeof(line), "socket=%d errno=%d connect=%d errno=%d execve=%d errno=%d "
			 "execveat=%d errno=%d dup63=%d execveat63=%d errno=%d io_uring=%d errno=%d\n", s, e1,
			 c, e2, x1, e3, x2, e4, d, x3, e5, u, e6);
		fd = open(out, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0) {
			(void)!write(fd, line, strlen(line));
			close(fd);
		}
	}
	return syscall(SYS_getrandom, buf, n, flags);
}
