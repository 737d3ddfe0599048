/*
 * floor.c: the cheapest per-connection SMTP handler, the benchmark's floor.
 * Reads one SMTP dialogue on fd 0 and answers 220, 250, 354, 250, 221 on fd 1;
 * stores nothing, logs nothing, checks nothing.  Run behind the same launcher as
 * smtpot, it measures what fork, exec and the dialogue itself cost, so smtpot's
 * numbers can be read as a fraction of it.
 * Limits: a line longer than the input buffer is skipped; no timeouts.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define FLOOR_IN_SIZE 65536
#define FLOOR_OUT_SIZE 4096

static char in_buf[FLOOR_IN_SIZE];
static char out_buf[FLOOR_OUT_SIZE];
static size_t out_len;

static int out_flush(void)
{
	size_t off = 0;

	while (off < out_len) {
		ssize_t n = write(1, out_buf + off, out_len - off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		off += (size_t)n;
	}
	out_len = 0;
	return 0;
}

/* Replies are buffered and flushed before each blocking read, so a pipelined
 * group of commands is answered with one write. */
static int out_put(const char *s)
{
	size_t n = strlen(s);

	if (out_len + n > sizeof(out_buf) && out_flush() < 0)
		return -1;
	memcpy(out_buf + out_len, s, n);
	out_len += n;
	return 0;
}

static int verb_is(const char *line, size_t len, const char *verb)
{
	size_t i;

	if (len < 4)
		return 0;
	for (i = 0; i < 4; i++)
		if ((line[i] & ~0x20) != verb[i])
			return 0;
	return len == 4 || line[4] == ' ' || line[4] == '\r' || line[4] == '\n';
}

int main(void)
{
	size_t start = 0, end = 0;
	int in_data = 0, skipping = 0;

	signal(SIGPIPE, SIG_IGN);
	if (out_put("220 floor ESMTP\r\n") < 0)
		return 1;
	for (;;) {
		char *nl = memchr(in_buf + start, '\n', end - start);
		const char *line;
		size_t len;
		int rc;

		if (nl == NULL) {
			ssize_t n;

			if (start > 0) {
				memmove(in_buf, in_buf + start, end - start);
				end -= start;
				start = 0;
			}
			if (end == sizeof(in_buf)) {
				/* An overlong line: drop it up to its newline. */
				end = 0;
				skipping = 1;
			}
			if (out_flush() < 0)
				return 1;
			n = read(0, in_buf + end, sizeof(in_buf) - end);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				return 1;
			}
			if (n == 0)
				return 0;
			end += (size_t)n;
			continue;
		}
		line = in_buf + start;
		len = (size_t)(nl - line) + 1;
		start += len;
		if (skipping) {
			skipping = 0;
			continue;
		}
		if (in_data) {
			if (line[0] == '.' && (len == 2 || (len == 3 && line[1] == '\r'))) {
				in_data = 0;
				if (out_put("250 2.0.0 Ok: queued\r\n") < 0)
					return 1;
			}
			continue;
		}
		if (verb_is(line, len, "DATA")) {
			in_data = 1;
			rc = out_put("354 End data with <CR><LF>.<CR><LF>\r\n");
		} else if (verb_is(line, len, "QUIT")) {
			if (out_put("221 2.0.0 Bye\r\n") < 0 || out_flush() < 0)
				return 1;
			return 0;
		} else {
			rc = out_put("250 2.0.0 Ok\r\n");
		}
		if (rc < 0)
			return 1;
	}
}
