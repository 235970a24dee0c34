/* The landing page's option (proto/landing/options.c). */
#ifndef SB_LANDING_OPTIONS_H
#define SB_LANDING_OPTIONS_H
#include <stdbool.h>

extern bool landing_off; /* --no-landing: / is not answered by the page */

#endif
