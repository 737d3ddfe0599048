/*
 * clock.h - the two clocks smtpot reads: wall time for event timestamps and a
 * monotonic clock for deadlines. Both are function pointers so that tests
 * can make sessions deterministic.
 */
#ifndef SMTPOT_CLOCK_H
#define SMTPOT_CLOCK_H

#include <stdint.h>
#include <time.h>

extern int64_t (*clock_mono_ms)(void);
extern time_t (*clock_wall)(void);

#endif
