/*
 * sandbox.c - loads the seccomp filter built at compile time by
 * src/sandbox/gen.c (libseccomp). Refused calls trap: the SIGSYS handler
 * makes the call return -EPERM, remembers its number and raises the stop
 * flag the I/O layer checks, so the session ends at once with an ERROR
 * event. Under systemd the unit's own filter is already in place and may
 * refuse seccomp(2) itself; that is reported as "unavailable", not fatal.
 */
#include "sandbox.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "conn.h"
#include "sandbox_bpf.h"

volatile sig_atomic_t sandbox_violation;

static void on_sigsys(int sig, siginfo_t *si, void *ctx)
{
	(void)sig;
	sandbox_violation = si->si_syscall != 0 ? si->si_syscall : -1;
	conn_stop(SIGSYS);
#if defined(__x86_64__)
	((ucontext_t *)ctx)->uc_mcontext.gregs[REG_RAX] = -EPERM;
#elif defined(__aarch64__)
	((ucontext_t *)ctx)->uc_mcontext.regs[0] = (unsigned long long)-EPERM;
#else
	(void)ctx;
#endif
}

static int sandbox_handler(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGSYS, &sa, NULL);
}

int sandbox_apply(int allow_exec)
{
	struct sock_fprog prog = {
		.len = allow_exec ? sizeof(sandbox_bpf_exec) / sizeof(sandbox_bpf_exec[0])
				  : sizeof(sandbox_bpf) / sizeof(sandbox_bpf[0]),
		.filter = allow_exec ? sandbox_bpf_exec : sandbox_bpf,
	};

	if (sandbox_handler() < 0)
		return -1;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0)
		return 0;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0 ? 0 : -1;
}
