#ifndef SB_CLOCK_H
#define SB_CLOCK_H
#include <stdint.h>
/* Milliseconds on the monotonic clock. */
int64_t clock_ms(void);
#endif
