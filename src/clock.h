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

/* Calendar fields of a time in UTC. */
struct utc {
	int64_t year;
	int month, day, hour, min, sec; /* month 1-12, day 1-31 */
};

/*
 * UTC calendar fields of t, by arithmetic: gmtime_r(3) reads the time zone
 * files on its first call, which a per-connection process pays each time.
 */
void clock_utc(time_t t, struct utc *out);

#endif
