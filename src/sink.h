/*
 * sink.h - the event sinks: a JSON-lines file and the systemd journal.
 */
#ifndef SMTPOT_SINK_H
#define SMTPOT_SINK_H

#include "event.h"

/* Opens (creating 0640) path for appending; on failure the sink reports once and counts. */
struct sink *sink_file_open(const char *path);
/* A file sink on an already open descriptor (stderr when no sink is chosen). */
struct sink *sink_file_fd(int fd, const char *name);
/* Loads the journal client on demand; on failure the sink reports once and counts. */
struct sink *sink_journal_open(void);

#endif
