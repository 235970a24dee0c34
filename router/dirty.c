/* The router's flush list (see dirty.h). */
#include "dirty.h"

#include <stddef.h>

void dirty_mark(struct dirty_list *l, struct dirty_node *n)
{
	if (n->on)
		return;
	n->on = true;
	n->next = l->head;
	l->head = n;
}

static bool unlink_from(struct dirty_node **pp, struct dirty_node *n)
{
	for (; *pp; pp = &(*pp)->next)
		if (*pp == n) {
			*pp = n->next;
			return true;
		}
	return false;
}

void dirty_unlink(struct dirty_list *l, struct dirty_node *n)
{
	if (!n->on)
		return;
	if (!unlink_from(&l->head, n))
		unlink_from(&l->running, n);
	n->on = false;
	n->next = NULL;
}

void dirty_run(struct dirty_list *l, bool (*fn)(struct dirty_node *n, void *arg), void *arg)
{
	l->running = l->head;
	l->head = NULL;
	while (l->running) {
		struct dirty_node *n = l->running;
		l->running = n->next;
		n->on = false;
		n->next = NULL;
		if (fn(n, arg))
			dirty_mark(l, n);
	}
}
