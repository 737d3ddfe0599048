/*
 * sandbox_probe.c - an LD_PRELOAD library for the sandbox test. smtpot
 * draws the 5 random bytes of a queue id with getrandom() when a message
 * starts, long after setup; at that call the probe tries what injected
 * code would (open a socket, connect out) and writes the outcome to
 * $SMTPOT_PROBE_OUT.
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
		char line[160];
		int s, e1, c = -2, e2 = 0, fd;
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
		snprintf(line, sizeof(line), "socket=%d errno=%d connect=%d errno=%d\n", s, e1, c, e2);
		fd = open(out, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0) {
			(void)!write(fd, line, strlen(line));
			close(fd);
		}
	}
	return syscall(SYS_getrandom, buf, n, flags);
}
