/* check_sink.c - the file sink: one write per event, each its own line. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
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

/* clock_utc against the C library over leap years, centuries, 2000 and 2100,
 * times before 1970 and the last second of a day. */
START_TEST(utc_matches_gmtime)
{
	static const int64_t fixed[] = { 0, -1, 86399, 86400, 951782400, 951868799, 4107542400,
					 4107628799, -2208988800, 253402300799, 1780000000 };
	int64_t t = -4000000000LL;

	for (size_t i = 0; i < 200000 + sizeof(fixed) / sizeof(fixed[0]); i++) {
		time_t v = (time_t)(i < 200000 ? t + (int64_t)i * 1299709 : fixed[i - 200000]);
		struct tm tm;
		struct utc u;

		ck_assert_ptr_nonnull(gmtime_r(&v, &tm));
		clock_utc(v, &u);
		ck_assert_int_eq(u.year, tm.tm_year + 1900);
		ck_assert_int_eq(u.month, tm.tm_mon + 1);
		ck_assert_int_eq(u.day, tm.tm_mday);
		ck_assert_int_eq(u.hour, tm.tm_hour);
		ck_assert_int_eq(u.min, tm.tm_min);
		ck_assert_int_eq(u.sec, tm.tm_sec);
	}
}
END_TEST

static time_t leap_day_wall(void)
{
	return 1709251199; /* 2024-02-29T23:59:59Z */
}

START_TEST(timestamp_text)
{
	time_t (*saved)(void) = clock_wall;
	char out[21];

	clock_wall = leap_day_wall;
	event_timestamp(out);
	clock_wall = saved;
	ck_assert_str_eq(out, "2024-02-29T23:59:59Z");
}
END_TEST

Suite *suite_sink(void)
{
	Suite *s = suite_create("sink");
	TCase *tc = tcase_create("sink");

	tcase_add_test(tc, lines_appended);
	tcase_add_test(tc, utc_matches_gmtime);
	tcase_add_test(tc, timestamp_text);
	suite_add_tcase(s, tc);
	return s;
}
