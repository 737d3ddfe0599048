/*
 * san_options.c - linked into smtpot-san only, the sanitizer build the
 * end-to-end suites run against. LeakSanitizer stops the world at exit
 * with clone(2) and ptrace(2), which smtpot's own seccomp filter refuses
 * (as it should); leaks are checked by the in-process suites under ASan
 * and valgrind instead, so here they are off.
 */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "detect_leaks=0";
}
