/*
 * common/log, whose limits protect the router's one loop: a flood of one
 * warning gives a bounded number of lines and then a count, and a log sink
 * nobody reads never blocks the caller.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../common/clock.h"
#include "../../common/log.h"
#include "check.h"

/* The lines in fd from its start; in *matching, those that contain needle. */
static size_t count_lines(int fd, const char *needle, size_t *matching)
{
	char buf[65536];
	size_t lines = 0, carry = 0;
	*matching = 0;
	lseek(fd, 0, SEEK_SET);
	ssize_t r;
	while ((r = read(fd, buf + carry, sizeof buf - 1 - carry)) > 0) {
		size_t n = carry + (size_t)r;
		buf[n] = 0;
		char *line = buf, *nl;
		while ((nl = strchr(line, '\n'))) {
			*nl = 0;
			lines++;
			if (needle && strstr(line, needle))
				(*matching)++;
			line = nl + 1;
		}
		carry = n - (size_t)(line - buf);
		memmove(buf, line, carry);
	}
	return lines;
}

static void test_log_flood(void)
{
	char path[] = "/tmp/sb-log-XXXXXX";
	int fd = mkstemp(path);
	int saved = dup(2);
	if (fd < 0 || saved < 0) {
		CHECK("log: temp file", false);
		return;
	}
	unlink(path);
	dup2(fd, 2);
	log_init("unit-log");
	for (int i = 0; i < 10000; i++) /* a few ms: all in one second */
		log_warn("the same warning %d", i);
	size_t m, first = count_lines(fd, NULL, &m);
	usleep(1100 * 1000);
	log_warn("the same warning %d", -1);
	for (int i = 0; i < 1000; i++)
		log_warn("another warning %d", i);
	usleep(1100 * 1000);
	log_tick();
	size_t all = count_lines(fd, NULL, &m);
	size_t counted = 0;
	count_lines(fd, "(9990 more like this in the last second)", &counted);
	size_t ticked = 0;
	count_lines(fd, "(990 more like \"another warning %d\" in the last second)", &ticked);
	dup2(saved, 2);
	close(saved);
	close(fd);
	log_init("switchboard");
	printf("# log: 10000 identical warnings gave %zu lines\n", first);
	CHECK("log: 10000 identical warnings in a second give at most 10 lines", first <= 10 && first > 0);
	CHECK("log: the next one after the second says how many were left out", counted == 1);
	CHECK("log: log_tick summarises a kind that went quiet", ticked == 1);
	CHECK("log: nothing else was written", all == first + 1 + 10 + 1);
}

static void test_log_sink(void)
{
	int p[2], saved = dup(2);
	if (pipe(p) < 0 || saved < 0) {
		CHECK("log: pipe", false);
		return;
	}
	dup2(p[1], 2);
	close(p[1]);
	log_init("unit-log");
	log_set_level(LOG_DEBUG);
	alarm(20); /* a blocking write would hang here: fail loudly instead */
	int64_t t0 = clock_ms();
	for (int i = 0; i < 20000; i++) /* about 1.5 MB, far over the pipe's 64 KiB */
		log_debug("a debug line nobody reads, number %d, padded to be long enough", i);
	int64_t took = clock_ms() - t0;
	alarm(0);
	/* drain, then the next line says what was dropped */
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	char buf[65536];
	size_t got = 0;
	ssize_t r;
	while ((r = read(p[0], buf, sizeof buf)) > 0)
		got += (size_t)r;
	log_warn("after the drain");
	r = read(p[0], buf, sizeof buf - 1);
	buf[r > 0 ? r : 0] = 0;
	log_set_level(LOG_INFO);
	dup2(saved, 2);
	close(saved);
	close(p[0]);
	log_init("switchboard");
	CHECK("log: a full pipe nobody reads does not block the logger", took < 5000);
	CHECK("log: lines that did not fit were dropped", got > 0 && got < 20000 * 60);
	CHECK("log: the drop is counted and said once the sink takes lines again",
	      strstr(buf, "log lines dropped: the log was full") && strstr(buf, "after the drain"));
	CHECK("log: fd 2 itself stays blocking (its description is shared)", !(fcntl(2, F_GETFL) & O_NONBLOCK));
}

void test_log(void)
{
	test_log_flood();
	test_log_sink();
}
