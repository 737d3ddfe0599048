/* check_spool.c - buffer or temporary file, final name, duplicates, modes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spool.h"
#include "testlib.h"

#define TAG "0123456789abcdef0123456789abcdef"

/* dir/name exists, mode 0600, size bytes long; its path is left in path. */
static void assert_stored(const char *dir, const char *name, off_t size, char path[256])
{
	struct stat st;

	snprintf(path, 256, "%s/%s", dir, name);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(st.st_size, size);
}

START_TEST(commit_and_duplicate)
{
	char dir[] = "/tmp/smtpot-spool-XXXXXX", path[256], name[80];
	static const char hex[65] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
	struct spool s = { 0 };

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(spool_open_dir(&s, dir, TAG), 0);
	spool_begin(&s);
	spool_write(&s, "hello", 5);
	ck_assert_int_eq(spool_commit(&s, hex, name), 0);
	assert_stored(dir, name, 5, path);
	spool_begin(&s);
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
	struct spool s = { 0 };

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(spool_open_dir(&s, dir, TAG), 0);
	spool_begin(&s);
	spool_write(&s, big, sizeof(big));
	spool_abort(&s);
	ck_assert_int_eq(test_count_files(dir), 0);
	spool_close_dir(&s);
	rmdir(dir);
}
END_TEST

/* A message longer than the buffer is on disk, under a temporary name only,
 * before it ends; the final name takes it whole. A second, equal one is a
 * duplicate and leaves nothing behind. */
START_TEST(big_message_through_temporary_file)
{
	char dir[] = "/tmp/smtpot-spool-XXXXXX", path[256], tmp[256], name[80];
	static const char hex[65] = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";
	static char big[SPOOL_BUFFER_SIZE * 2 + 17];
	struct spool s = { 0 };
	struct stat st;

	memset(big, 'x', sizeof(big));
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(spool_open_dir(&s, dir, TAG), 0);
	for (int round = 0; round < 2; round++) {
		spool_begin(&s);
		spool_write(&s, big, 100);
		ck_assert_int_eq(test_count_files(dir), round); /* still in memory */
		spool_write(&s, big + 100, sizeof(big) - 100);
		snprintf(tmp, sizeof(tmp), "%s/.tmp." TAG ".%d", dir, round + 1);
		ck_assert_int_eq(stat(tmp, &st), 0);
		ck_assert_int_eq(st.st_mode & 0777, 0600);
		ck_assert_int_eq(spool_commit(&s, hex, name), round);
		ck_assert_int_eq(test_count_files(dir), 1);
	}
	assert_stored(dir, name, sizeof(big), path);
	unlink(path);
	spool_close_dir(&s);
	rmdir(dir);
}
END_TEST

/* A small message is written only at the end, and an empty one is stored
 * too; a failure to create the file is reported at the end. */
START_TEST(small_message_written_at_commit)
{
	char dir[] = "/tmp/smtpot-spool-XXXXXX", path[256], name[80];
	static const char hex[65] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
	struct spool s = { 0 };

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(spool_open_dir(&s, dir, TAG), 0);
	spool_begin(&s);
	ck_assert_int_eq(spool_commit(&s, hex, name), 0);
	assert_stored(dir, name, 0, path);
	unlink(path);
	/* The directory removed under an open session: creating fails, even as root. */
	ck_assert_int_eq(rmdir(dir), 0);
	spool_begin(&s);
	spool_write(&s, "hello", 5);
	ck_assert_int_eq(spool_commit(&s, hex, name), -1);
	ck_assert_str_eq(s.err_what, "spool create");
	spool_close_dir(&s);
}
END_TEST

Suite *suite_spool(void)
{
	Suite *s = suite_create("spool");
	TCase *tc = tcase_create("spool");

	tcase_add_test(tc, commit_and_duplicate);
	tcase_add_test(tc, abort_leaves_nothing);
	tcase_add_test(tc, big_message_through_temporary_file);
	tcase_add_test(tc, small_message_written_at_commit);
	suite_add_tcase(s, tc);
	return s;
}
