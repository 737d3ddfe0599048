/*
 * sandbox.c - the seccomp filter (libseccomp). Refused calls trap: the
 * SIGSYS handler makes the call return -EPERM, remembers its number and
 * raises the stop flag the I/O layer checks, so the session ends at its
 * next wait with an ERROR event. Under systemd the unit's own filter is
 * already in place and may refuse seccomp(2) itself; that is not an error.
 */
#include "sandbox.h"

#include <errno.h>
#include <seccomp.h>
#include <stddef.h>
#include <string.h>
#include <ucontext.h>

#include "conn.h"

volatile sig_atomic_t sandbox_violation;

static const int denied[] = {
	SCMP_SYS(socket),  SCMP_SYS(socketpair), SCMP_SYS(connect),         SCMP_SYS(bind),
	SCMP_SYS(listen),  SCMP_SYS(accept),     SCMP_SYS(accept4),         SCMP_SYS(execve),
	SCMP_SYS(execveat), SCMP_SYS(fork),      SCMP_SYS(vfork),           SCMP_SYS(clone),
	SCMP_SYS(clone3),  SCMP_SYS(ptrace),     SCMP_SYS(process_vm_readv), SCMP_SYS(process_vm_writev),
};

static void on_sigsys(int sig, siginfo_t *si, void *ctx)
{
	(void)sig;
	sandbox_violation = si->si_syscall != 0 ? si->si_syscall : -1;
	conn_stop_signal = SIGSYS;
#if defined(__x86_64__)
	((ucontext_t *)ctx)->uc_mcontext.gregs[REG_RAX] = -EPERM;
#elif defined(__aarch64__)
	((ucontext_t *)ctx)->uc_mcontext.regs[0] = (unsigned long long)-EPERM;
#else
	(void)ctx;
#endif
}

int sandbox_apply(void)
{
	struct sigaction sa;
	scmp_filter_ctx f;
	int rc = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0)
		return -1;
	f = seccomp_init(SCMP_ACT_ALLOW);
	if (f == NULL)
		return -1;
	for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]) && rc == 0; i++) {
		if (denied[i] >= 0)
			rc = seccomp_rule_add(f, SCMP_ACT_TRAP, denied[i], 0);
	}
	if (rc == 0)
		rc = seccomp_load(f);
	seccomp_release(f);
	return rc == 0 ? 0 : -1;
}
