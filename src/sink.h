/*
 * sink.h - the event sinks: a JSON-lines file and the systemd journal.
 */
#ifndef SMTPOT_SINK_H
#define SMTPOT_SINK_H

#include "event.h"

/* Opens (creating 0640) path for appending; on failure the sink reports once and counts. */
struct sink *sink_file_open(const char *path);
/*
 * A file sink on an already open descriptor (stderr when no sink is chosen,
 * or the log file kept across the exec at STARTTLS; fd -1 with err: failed).
 */
struct sink *sink_file_fd(int fd, int err, const char *name);
/* Opens the journal socket; on failure the sink reports once and counts. */
struct sink *sink_journal_open(void);
/* The same on a descriptor kept across the exec at STARTTLS. */
struct sink *sink_journal_fd(int fd, int err);

#endif
