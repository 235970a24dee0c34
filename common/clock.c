#include "clock.h"

#include <stdint.h>
#include <sys/timerfd.h>
#include <time.h>

int64_t clock_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void clock_arm_timerfd(int fd, int64_t at_ms)
{
	struct itimerspec its = {0};
	if (at_ms != INT64_MAX) {
		int64_t d = at_ms - clock_ms();
		if (d < 1)
			d = 1; /* already due: fire now (0 would disarm) */
		its.it_value.tv_sec = d / 1000;
		its.it_value.tv_nsec = (d % 1000) * 1000000;
	}
	timerfd_settime(fd, 0, &its, NULL);
}
