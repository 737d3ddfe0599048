/* check_sink.c - the file sink: one write per event, each its own line. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "event.h"
#include "sink.h"
#include "testlib.h"

static size_t slurp(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "rb");
	size_t n = fread(buf, 1, cap - 1, f);

	fclose(f);
	buf[n] = '\0';
	return n;
}

static void emit_two(const char *path)
{
	struct event_ctx ev;

	memset(&ev, 0, sizeof(ev));
	snprintf(ev.session, sizeof(ev.session), "00112233445566778899aabbccddeeff");
	snprintf(ev.source_ip, sizeof(ev.source_ip), "192.0.2.1");
	snprintf(ev.dest_ip, sizeof(ev.dest_ip), "192.0.2.2");
	ev.source_port = ev.dest_port = -1;
	ev.sensor = "s\"1";
	event_add_sink(&ev, sink_file_open(path));
	ck_assert_int_eq(event_emit(&ev, EV_CONNECT, NULL), 0);
	ck_assert_int_eq(event_emit(&ev, EV_QUIT, NULL), 0);
	event_close_sinks(&ev);
}

START_TEST(lines_appended)
{
	char path[] = "/tmp/smtpot-sink-XXXXXX", buf[4096];
	int fd = mkstemp(path);
	const char *second;

	close(fd);
	emit_two(path);
	emit_two(path);
	slurp(path, buf, sizeof(buf));
	/* Four lines, each one event, the operator's sensor text escaped. */
	ck_assert_int_eq(strncmp(buf, "{\"timestamp\":", 13), 0);
	second = strchr(buf, '\n') + 1;
	ck_assert_ptr_nonnull(strstr(buf, "\"sensor\":\"s\\\"1\"}\n{"));
	ck_assert_int_eq(strncmp(second, "{\"timestamp\":", 13), 0);
	ck_assert_ptr_null(strstr(buf, "\n\n"));
	ck_assert_int_eq(buf[strlen(buf) - 1], '\n');
	{
		int lines = 0;

		for (const char *p = buf; *p != '\0'; p++)
			lines += *p == '\n';
		ck_assert_int_eq(lines, 4);
	}
	unlink(path);
}
END_TEST

Suite *suite_sink(void)
{
	Suite *s = suite_create("sink");
	TCase *tc = tcase_create("sink");

	tcase_add_test(tc, lines_appended);
	suite_add_tcase(s, tc);
	return s;
}
