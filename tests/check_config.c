/* check_config.c - options, the config file, precedence, refusals. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "testlib.h"

/* Copies argv, since getopt may permute it and literals are read-only. */
static enum config_result parse(struct config *c, int argc, const char *const *in)
{
	char *argv[32];
	enum config_result r;
	FILE *saved = stderr;

	for (int i = 0; i < argc; i++)
		argv[i] = strdup(in[i]);
	argv[argc] = NULL;
	/* Refusals print to stderr; keep the test output clean. */
	stderr = fopen("/dev/null", "w");
	config_defaults(c);
	r = config_parse(c, argc, argv);
	fclose(stderr);
	stderr = saved;
	for (int i = 0; i < argc; i++)
		free(argv[i]);
	return r;
}

START_TEST(defaults)
{
	struct config c;
	const char *argv[] = { "smtpot", NULL };

	ck_assert_int_eq(parse(&c, 1, argv), CONFIG_OK);
	ck_assert_uint_eq(c.max_line_length, 2048);
	ck_assert_uint_eq(c.max_message_size, 10240000);
	ck_assert_uint_eq(c.idle_timeout, 300);
	ck_assert_ptr_null(c.log_file);
	ck_assert_int_eq(c.journal, 0);
	config_free(&c);
}
END_TEST

START_TEST(options)
{
	struct config c;
	const char *argv[] = { "smtpot", "--max-message-size=20M", "--journal", "--idle-timeout", "2m",
			       "--hostname=mx1.example.net", "--log-file=/tmp/x.jsonl", NULL };

	ck_assert_int_eq(parse(&c, 7, argv), CONFIG_OK);
	ck_assert_uint_eq(c.max_message_size, 20 * 1024 * 1024);
	ck_assert_int_eq(c.journal, 1);
	ck_assert_uint_eq(c.idle_timeout, 120);
	ck_assert_str_eq(c.hostname, "mx1.example.net");
	ck_assert_str_eq(c.log_file, "/tmp/x.jsonl");
	config_free(&c);
}
END_TEST

START_TEST(refusals)
{
	static const char *bad[] = { "--max-line-length=10", "--max-errors=abc", "--hostname=a b",
				     "--banner=x\ry", "--nope", "--idle-timeout=5x", "--journal=maybe",
				     "--max-message-size=99999999999999999999999" };
	struct config c;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *argv[] = { "smtpot", bad[i], NULL };

		ck_assert_msg(parse(&c, 2, argv) == CONFIG_USAGE, "accepted %s", bad[i]);
		config_free(&c);
	}
}
END_TEST

START_TEST(file_then_command_line)
{
	char path[] = "/tmp/smtpot-conf-XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	struct config c;
	char opt[64];
	const char *argv[] = { "smtpot", opt, "--max-recipients=7", NULL };

	fprintf(f, "# comment\n\nmax-recipients = 3\n  hostname=mx.file.example  \njournal = yes\n");
	fclose(f);
	snprintf(opt, sizeof(opt), "--config=%s", path);
	ck_assert_int_eq(parse(&c, 3, argv), CONFIG_OK);
	ck_assert_uint_eq(c.max_recipients, 7);
	ck_assert_str_eq(c.hostname, "mx.file.example");
	ck_assert_int_eq(c.journal, 1);
	config_free(&c);

	f = fopen(path, "w");
	fprintf(f, "max-recipients = 3\nbogus = 1\n");
	fclose(f);
	ck_assert_int_eq(parse(&c, 2, argv), CONFIG_BAD_FILE);
	config_free(&c);
	unlink(path);
	ck_assert_int_eq(parse(&c, 2, argv), CONFIG_NO_FILE);
	config_free(&c);
}
END_TEST

/* The settings handed to the TLS module: the same settings, no file needed. */
START_TEST(as_command_line)
{
	char path[] = "/tmp/smtpot-conf-XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	struct config a, b;
	char opt[64], **v, **w;
	const char *argv[] = { "smtpot", opt, "--max-recipients=7", "--spool-dir=", "--sensor=s 1", NULL };
	int n;

	fprintf(f, "hostname=mx.file.example\njournal = yes\nidle-timeout = 2m\nbanner = ESMTP x=y\n");
	fclose(f);
	snprintf(opt, sizeof(opt), "--config=%s", path);
	ck_assert_int_eq(parse(&a, 5, argv), CONFIG_OK);
	unlink(path); /* gone: the command line must not need it */
	v = config_argv(&a, "/x/smtpot-tls");
	ck_assert_ptr_nonnull(v);
	ck_assert_str_eq(v[0], "/x/smtpot-tls");
	for (n = 0; v[n] != NULL; n++)
		ck_assert_ptr_null(strstr(v[n], "--config"));
	ck_assert_int_lt(n, 32);
	ck_assert_int_eq(parse(&b, n, (const char *const *)v), CONFIG_OK);
	ck_assert_str_eq(b.hostname, "mx.file.example");
	ck_assert_str_eq(b.banner, "ESMTP x=y");
	ck_assert_str_eq(b.sensor, "s 1");
	ck_assert_str_eq(b.spool_dir, "");
	ck_assert_int_eq(b.journal, 1);
	ck_assert_uint_eq(b.idle_timeout, 120);
	ck_assert_uint_eq(b.max_recipients, 7);
	ck_assert_ptr_null(b.log_file);
	ck_assert_ptr_null(b.tls_cert);
	/* And nothing else differs: the same settings give the same line. */
	w = config_argv(&b, "/x/smtpot-tls");
	for (int i = 0; i <= n; i++)
		ck_assert_pstr_eq(w[i], v[i]);
	config_argv_free(v);
	config_argv_free(w);
	config_free(&a);
	config_free(&b);
}
END_TEST

Suite *suite_config(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("config");

	tcase_add_test(tc, defaults);
	tcase_add_test(tc, options);
	tcase_add_test(tc, refusals);
	tcase_add_test(tc, file_then_command_line);
	tcase_add_test(tc, as_command_line);
	suite_add_tcase(s, tc);
	return s;
}
