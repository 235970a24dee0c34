/* router/dirty: the flush list. The case that once hung the router: a
 * worker's on_drained marks it again while the flush keeps it as well. */
#include <stdbool.h>
#include <stddef.h>

#include "../../router/dirty.h"
#include "check.h"

struct item {
	struct dirty_node node;
	int runs;
	int remark; /* passes in which its run marks itself (as on_drained does) */
	bool keep;  /* its run answers "still something to send" */
	struct item *also; /* marked by its run (another worker's queue grows) */
};

static struct dirty_list *list;

static struct item *of(struct dirty_node *n) { return (struct item *)(void *)((char *)n - offsetof(struct item, node)); }

static bool run_item(struct dirty_node *n, void *arg)
{
	(void)arg;
	struct item *it = of(n);
	it->runs++;
	if (it->remark > 0) {
		it->remark--;
		dirty_mark(list, n);
	}
	if (it->also)
		dirty_mark(list, &it->also->node);
	return it->keep;
}

static int length(const struct dirty_list *l, int limit)
{
	int k = 0;
	for (const struct dirty_node *n = l->head; n && k <= limit; n = n->next)
		k++;
	return k;
}

void test_dirty(void)
{
	struct dirty_list l = {0};
	list = &l;
	struct item a = {0}, b = {0}, c = {0};
	CHECK("dirty: an empty list has nothing to run", !dirty_any(&l));
	dirty_mark(&l, &a.node);
	dirty_mark(&l, &a.node);
	dirty_mark(&l, &b.node);
	CHECK("dirty: a node marked twice is on the list once", length(&l, 10) == 2 && dirty_any(&l));
	dirty_run(&l, run_item, NULL);
	CHECK("dirty: a pass runs each node once and empties the list", a.runs == 1 && b.runs == 1 && !dirty_any(&l));

	/* marked by its own run and kept too (the hang): on the list once, for the next pass */
	a.runs = b.runs = 0;
	a.remark = 1, a.keep = true;
	dirty_mark(&l, &a.node);
	dirty_mark(&l, &b.node);
	dirty_mark(&l, &c.node);
	dirty_run(&l, run_item, NULL);
	CHECK("dirty: marked in its run and kept, a node runs once in the pass", a.runs == 1 && b.runs == 1 && c.runs == 1);
	CHECK("dirty: ... and is on the list once, alone, for the next", length(&l, 10) == 1 && l.head == &a.node && a.node.on);
	a.keep = false;
	dirty_run(&l, run_item, NULL);
	CHECK("dirty: the next pass runs it, and the list ends", a.runs == 2 && !dirty_any(&l) && !a.node.on);

	/* a run marks a node still to run in this pass: it runs once, not twice */
	a.runs = b.runs = c.runs = 0;
	dirty_mark(&l, &c.node);
	dirty_mark(&l, &a.node); /* a runs first, c after it */
	a.also = &c;
	dirty_run(&l, run_item, NULL);
	CHECK("dirty: a node marked by an earlier run of the same pass runs once", a.runs == 1 && c.runs == 1 && !dirty_any(&l));
	/* a run marks a node already run: it waits for the next pass */
	a.runs = c.runs = 0;
	a.also = NULL;
	c.also = &a;
	dirty_mark(&l, &c.node);
	dirty_mark(&l, &a.node); /* a, then c marks a again */
	dirty_run(&l, run_item, NULL);
	CHECK("dirty: a node marked after its run waits for the next pass", a.runs == 1 && c.runs == 1 && l.head == &a.node &&
	      length(&l, 10) == 1);
	c.also = NULL;
	dirty_run(&l, run_item, NULL);

	/* a worker gone: off the list, or out of the running pass */
	dirty_mark(&l, &a.node);
	dirty_mark(&l, &b.node);
	dirty_unlink(&l, &a.node);
	CHECK("dirty: an unlinked node is off the list", length(&l, 10) == 1 && l.head == &b.node && !a.node.on);
	dirty_unlink(&l, &a.node);
	CHECK("dirty: unlinking a node not on it changes nothing", length(&l, 10) == 1);
	dirty_run(&l, run_item, NULL);
	dirty_mark(&l, &b.node);
	dirty_mark(&l, &a.node);
	l.running = l.head; /* as inside a pass: a still to run, then b */
	l.head = NULL;
	dirty_unlink(&l, &b.node);
	CHECK("dirty: a node can leave the running pass", l.running == &a.node && a.node.next == NULL && !b.node.on);
	l.running = NULL;
	a.node.on = false;
	a.node.next = NULL;
}
