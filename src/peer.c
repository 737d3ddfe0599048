/*
 * peer.c - getpeername/getsockname on the client descriptor first (the
 * kernel's word), then REMOTE_ADDR/REMOTE_PORT (systemd), TCPREMOTEIP/
 * TCPREMOTEPORT (ucspi-tcp), REMOTE_HOST (xinetd). IPv4-mapped IPv6
 * addresses are shown as plain IPv4. Environment values are checked to be
 * addresses before they are believed.
 */
#include "peer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Address and port of a socket address, or -1 when it is not IP. */
static int sa_format(const struct sockaddr_storage *ss, char *ip, size_t iplen, long *port)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

		if (inet_ntop(AF_INET, &s4->sin_addr, ip, (socklen_t)iplen) == NULL)
			return -1;
		*port = ntohs(s4->sin_port);
		return 0;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			if (inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], ip, (socklen_t)iplen) == NULL)
				return -1;
		} else if (inet_ntop(AF_INET6, &s6->sin6_addr, ip, (socklen_t)iplen) == NULL) {
			return -1;
		}
		*port = ntohs(s6->sin6_port);
		return 0;
	}
	return -1;
}

/* Copies an address from the environment after checking it parses; mapped v4 shown plain. */
static int env_ip(const char *name, char *ip, size_t iplen)
{
	const char *v = getenv(name);
	unsigned char a[16];

	if (v == NULL)
		return -1;
	if (inet_pton(AF_INET, v, a) == 1) {
		inet_ntop(AF_INET, a, ip, (socklen_t)iplen);
		return 0;
	}
	if (inet_pton(AF_INET6, v, a) == 1) {
		if (IN6_IS_ADDR_V4MAPPED((struct in6_addr *)a))
			inet_ntop(AF_INET, a + 12, ip, (socklen_t)iplen);
		else
			inet_ntop(AF_INET6, a, ip, (socklen_t)iplen);
		return 0;
	}
	return -1;
}

static long env_port(const char *name)
{
	const char *v = getenv(name);
	char *end;
	long n;

	if (v == NULL || *v == '\0')
		return -1;
	n = strtol(v, &end, 10);
	return *end == '\0' && n >= 0 && n <= 65535 ? n : -1;
}

void peer_lookup(int fd, struct peer *p)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	snprintf(p->source_ip, sizeof(p->source_ip), "unknown");
	snprintf(p->dest_ip, sizeof(p->dest_ip), "unknown");
	p->source_port = p->dest_port = -1;
	p->via = "unknown";

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
		(void)sa_format(&ss, p->dest_ip, sizeof(p->dest_ip), &p->dest_port);
	len = sizeof(ss);
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0 &&
	    sa_format(&ss, p->source_ip, sizeof(p->source_ip), &p->source_port) == 0) {
		p->via = "socket";
		return;
	}
	if (env_ip("REMOTE_ADDR", p->source_ip, sizeof(p->source_ip)) == 0) {
		p->source_port = env_port("REMOTE_PORT");
		p->via = "REMOTE_ADDR";
	} else if (env_ip("TCPREMOTEIP", p->source_ip, sizeof(p->source_ip)) == 0) {
		p->source_port = env_port("TCPREMOTEPORT");
		p->via = "TCPREMOTEIP";
	} else if (env_ip("REMOTE_HOST", p->source_ip, sizeof(p->source_ip)) == 0) {
		p->via = "REMOTE_HOST";
	}
}
