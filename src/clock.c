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
