/*
 * sandbox.h - smtpot confines itself once the session is set up: a seccomp
 * filter that refuses new sockets, connect, exec, new processes, ptrace
 * and io_uring. A refused call does not kill the process: it fails with EPERM
 * and is reported, so the session can log it and end cleanly.
 */
#ifndef SMTPOT_SANDBOX_H
#define SMTPOT_SANDBOX_H

#include <signal.h>

/* The system call a filter refused, or 0. Set from the SIGSYS handler. */
extern volatile sig_atomic_t sandbox_violation;

/*
 * The one descriptor the filter for STARTTLS sessions lets smtpot execute
 * (execveat with AT_EMPTY_PATH): the TLS module, put there before the
 * filter, which then refuses to close it or to put anything else there.
 * Below 64, the unit's LimitNOFILE=.
 */
#define SANDBOX_EXEC_FD 63

/*
 * Installs the filter: 0, or -1 when the kernel or an outer sandbox refuses.
 * allow_exec: the variant that lets SANDBOX_EXEC_FD be executed.
 */
int sandbox_apply(int allow_exec);

#endif
