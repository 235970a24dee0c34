#ifndef SB_CLOCK_H
#define SB_CLOCK_H
#include <stdint.h>
/* Milliseconds on the monotonic clock. */
int64_t clock_ms(void);
/* Arms a timerfd to fire at monotonic time at_ms; INT64_MAX disarms it. */
void clock_arm_timerfd(int fd, int64_t at_ms);
#endif
