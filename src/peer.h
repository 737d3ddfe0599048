/*
 * peer.h - who is on the other end: source and destination address and
 * port of the connection on fd 0, else what the launcher put in the
 * environment, else "unknown".
 */
#ifndef SMTPOT_PEER_H
#define SMTPOT_PEER_H

struct peer {
	char source_ip[64], dest_ip[64];
	long source_port, dest_port; /* -1: unknown */
	const char *via; /* "socket", "REMOTE_ADDR", "TCPREMOTEIP", "REMOTE_HOST", "unknown" */
};

void peer_lookup(int fd, struct peer *p);

#endif
