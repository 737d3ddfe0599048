/*
 * spawn.c - what one short session costs a per-connection handler, without
 * the launcher, the client or concurrency in the way.
 *
 *   bench/build/spawn N [--unique] HANDLER [ARG...]
 *
 * For each of N sessions: accepts a loopback TCP connection made by itself,
 * writes a whole pipelined session into it (EHLO, MAIL, RCPT, DATA, a 1 KiB
 * message, QUIT), runs HANDLER with the connection on fd 0 and 1, waits for
 * it, and drains the replies. Prints the wall time and the handlers' CPU time
 * (user and system, from getrusage) per session. One session at a time, so the
 * figures hardly move with other work on the machine; run two handlers one
 * after the other, several times, and compare medians. With --unique every
 * message differs (a counter in the Subject), so a spool stores each one.
 * A handler that exits with a status above 1 is reported and counted.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BODY_SIZE 1024
#define TAG_DIGITS 16

static double now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static double cpu_us(const struct rusage *r)
{
	return (double)(r->ru_utime.tv_sec + r->ru_stime.tv_sec) * 1e6 +
	       (double)(r->ru_utime.tv_usec + r->ru_stime.tv_usec);
}

/* The session, with TAG_DIGITS digits in the Subject that *tag points at. */
static size_t build_session(char *out, size_t cap, char **tag)
{
	char body[BODY_SIZE + 1];
	int n;

	/* 1 KiB of 70-character lines. */
	for (size_t i = 0; i < BODY_SIZE; i++)
		body[i] = (i % 72 == 70) ? '\r' : (i % 72 == 71) ? '\n' : 'x';
	body[BODY_SIZE] = '\0';
	n = snprintf(out, cap,
		     "EHLO client.example\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n"
		     "DATA\r\nSubject: %0*d\r\n\r\n%s\r\n.\r\nQUIT\r\n",
		     TAG_DIGITS, 0, body);
	if (n < 0 || (size_t)n >= cap)
		return 0;
	*tag = strstr(out, "Subject: ") + strlen("Subject: ");
	return (size_t)n;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	struct rusage r0, r1;
	char sess[4096], drain[65536], *tag;
	int unique = 0, argi = 2, ls, bad = 0;
	long n;
	size_t len;
	double t0;

	if (argc > 2 && strcmp(argv[2], "--unique") == 0) {
		unique = 1;
		argi = 3;
	}
	if (argc <= argi || (n = strtol(argv[1], NULL, 10)) <= 0) {
		fprintf(stderr, "usage: %s N [--unique] HANDLER [ARG...]\n", argv[0]);
		return 2;
	}
	len = build_session(sess, sizeof(sess), &tag);
	ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (len == 0 || ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(ls, (struct sockaddr *)&a, &alen) < 0 || listen(ls, 16) < 0) {
		perror("spawn: listen");
		return 2;
	}
	getrusage(RUSAGE_CHILDREN, &r0);
	t0 = now_us();
	for (long i = 0; i < n; i++) {
		int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), s, st;
		pid_t pid;

		if (unique) {
			unsigned long long k = (unsigned long long)getpid() * 1000000000ULL + (unsigned long long)i;

			for (int d = TAG_DIGITS - 1; d >= 0; d--, k /= 10)
				tag[d] = (char)('0' + k % 10);
		}
		if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)) < 0 ||
		    (s = accept(ls, NULL, NULL)) < 0 || write(c, sess, len) != (ssize_t)len) {
			perror("spawn: connection");
			return 2;
		}
		pid = fork();
		if (pid == 0) {
			dup2(s, 0);
			dup2(s, 1);
			execv(argv[argi], argv + argi);
			_exit(127);
		}
		close(s);
		if (pid < 0 || waitpid(pid, &st, 0) < 0) {
			perror("spawn: fork");
			return 2;
		}
		if (!WIFEXITED(st) || WEXITSTATUS(st) > 1)
			bad++;
		while (recv(c, drain, sizeof(drain), MSG_DONTWAIT) > 0)
			;
		close(c);
	}
	getrusage(RUSAGE_CHILDREN, &r1);
	printf("%s: %ld sessions, wall %.1f us/session, CPU %.1f us/session%s\n", argv[argi], n,
	       (now_us() - t0) / (double)n, (cpu_us(&r1) - cpu_us(&r0)) / (double)n,
	       bad ? " (some handlers failed)" : "");
	if (bad)
		fprintf(stderr, "spawn: %d of %ld handlers exited abnormally\n", bad, n);
	return bad ? 1 : 0;
}
