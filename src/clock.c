/*
 * clock.c - default clocks: CLOCK_MONOTONIC for deadlines (immune to the
 * wall clock being set), time(2) for timestamps.
 */
#include "clock.h"

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static time_t wall(void)
{
	return time(NULL);
}

int64_t (*clock_mono_ms)(void) = mono_ms;
time_t (*clock_wall)(void) = wall;

/* Floor division, for times before 1970. */
static int64_t div_floor(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* The proleptic Gregorian calendar repeats every 400 years (146097 days);
 * days are counted from 0000-03-01 so that the leap day ends each year. */
void clock_utc(time_t t, struct utc *out)
{
	int64_t days = div_floor((int64_t)t, 86400);
	int64_t secs = (int64_t)t - days * 86400;
	int64_t z = days + 719468;
	int64_t era = div_floor(z, 146097);
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;

	out->day = (int)(doy - (153 * mp + 2) / 5 + 1);
	out->month = (int)(mp < 10 ? mp + 3 : mp - 9);
	out->year = yoe + era * 400 + (out->month <= 2);
	out->hour = (int)(secs / 3600);
	out->min = (int)(secs / 60 % 60);
	out->sec = (int)(secs % 60);
}
