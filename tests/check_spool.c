/* check_spool.c - temporary file, final name, duplicates, modes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spool.h"
#include "testlib.h"

START_TEST(commit_and_duplicate)
{
	char dir[] = "/tmp/smtpot-spool-XXXXXX", path[256], name[80];
	static const char hex[65] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
	struct spool s;
	struct stat st;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(spool_open_dir(&s, dir), 0);
	ck_assert_int_eq(spool_begin(&s), 0);
	spool_write(&s, "hello", 5);
	ck_assert_int_eq(spool_commit(&s, hex, name), 0);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(st.st_size, 5);
	ck_assert_int_eq(spool_begin(&s), 0);
	spool_write(&s, "hello", 5);
	ck_assert_int_eq(spool_commit(&s, hex, name), 1);
	ck_assert_int_eq(test_count_files(dir), 1); /* no temporary file left */
	unlink(path);
	spool_close_dir(&s);
	rmdir(dir);
}
END_TEST

START_TEST(abort_leaves_nothing)
{
	char dir[] = "/tmp/smtpot-spool-XXXXXX";
	static char big[200000];
	struct spool s;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(spool_open_dir(&s, dir), 0);
	ck_assert_int_eq(spool_begin(&s), 0);
	spool_write(&s, big, sizeof(big));
	spool_abort(&s);
	ck_assert_int_eq(test_count_files(dir), 0);
	spool_close_dir(&s);
	rmdir(dir);
}
END_TEST

Suite *suite_spool(void)
{
	Suite *s = suite_create("spool");
	TCase *tc = tcase_create("spool");

	tcase_add_test(tc, commit_and_duplicate);
	tcase_add_test(tc, abort_leaves_nothing);
	suite_add_tcase(s, tc);
	return s;
}
