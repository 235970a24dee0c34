/* Giving the router's free heap back after a burst (router/heaptrim.c). */
#ifndef SB_ROUTER_HEAPTRIM_H
#define SB_ROUTER_HEAPTRIM_H
#include <stdint.h>

/* Every loop turn: arms a check a second on, or runs the one due. */
void heaptrim_turn(int64_t now);
/* When the loop must wake for the check; 0: none armed. */
int64_t heaptrim_due(void);

#endif
