/*
 * check_main.c - runs every suite in one runner, so one summary line says
 * how many checks ran and failed.
 */
#include <stdlib.h>

#include "testlib.h"

int main(void)
{
	SRunner *sr = srunner_create(suite_text());
	int failed;

	srunner_add_suite(sr, suite_line());
	srunner_add_suite(sr, suite_address());
	srunner_add_suite(sr, suite_data());
	srunner_add_suite(sr, suite_message());
	srunner_add_suite(sr, suite_sha256());
	srunner_add_suite(sr, suite_config());
	srunner_add_suite(sr, suite_spool());
	srunner_add_suite(sr, suite_session());
	srunner_add_suite(sr, suite_cases());
	srunner_add_suite(sr, suite_auth());
	srunner_add_suite(sr, suite_tlsfp());
	srunner_add_suite(sr, suite_mime());
	srunner_add_suite(sr, suite_sink());
	srunner_add_suite(sr, suite_hostile());
	srunner_add_suite(sr, suite_resume());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
