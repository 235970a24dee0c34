/*
 * Galène, router half: bcrypt and pbkdf2 checks on a small pool of threads.
 * A check costs milliseconds (bcrypt cost 8: about 50 ms here), and the
 * router's loop serves every client, so it must not wait for one. Threads,
 * not a helper process: pw_check reads only its arguments (each job owns a
 * copy of the password entry and of the candidate), so there is no shared
 * state to protect beyond the two queues, and nothing to serialise. The
 * pool has --galene-password-threads threads (Galène limits concurrent
 * checks to the CPU count); results come back through an eventfd the loop
 * watches (router_watch_fd), and the continuation runs on the loop.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../../common/log.h"
#include "options.h"
#include "password.h"
#include "router.h"

struct job {
	struct job *next;
	struct pw_spec spec;
	char *pw;
	size_t len;
	pool_done_fn *done;
	void *arg;
	bool cancelled;
	int result;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static struct job *todo, *todo_tail, *done_list, *running[64];
static pthread_t threads[64];
static int nthreads, efd = -1;
static bool stopping;

static void job_free(struct job *j)
{
	pw_free(&j->spec);
	if (j->pw)
		memset(j->pw, 0, j->len);
	free(j->pw);
	free(j);
}

static void *thread_main(void *arg)
{
	int me = (int)(intptr_t)arg;
	pthread_mutex_lock(&mu);
	for (;;) {
		while (!todo && !stopping)
			pthread_cond_wait(&cv, &mu);
		if (stopping)
			break;
		struct job *j = todo;
		if (!(todo = j->next))
			todo_tail = NULL;
		running[me] = j;
		pthread_mutex_unlock(&mu);
		j->result = pw_check(&j->spec, j->pw, j->len);
		pthread_mutex_lock(&mu);
		running[me] = NULL;
		j->next = done_list;
		done_list = j;
		uint64_t one = 1;
		if (write(efd, &one, sizeof one) < 0 && errno != EAGAIN)
			log_warn("galene: password pool: %s", strerror(errno));
	}
	pthread_mutex_unlock(&mu);
	return NULL;
}

/* On the loop: runs the continuations of finished checks. */
static void on_results(struct router *r, void *arg)
{
	(void)r, (void)arg;
	uint64_t n;
	if (read(efd, &n, sizeof n) < 0 && errno != EAGAIN)
		log_warn("galene: password pool: %s", strerror(errno));
	pthread_mutex_lock(&mu);
	struct job *list = done_list;
	done_list = NULL;
	pthread_mutex_unlock(&mu);
	while (list) {
		struct job *j = list;
		list = j->next;
		if (!j->cancelled)
			j->done(j->arg, j->result);
		job_free(j);
	}
}

int pool_init(struct router *r)
{
	efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (efd < 0 || router_watch_fd(r, efd, on_results, NULL) < 0)
		return -1;
	nthreads = (int)galene_opt.password_threads;
	if (nthreads < 1)
		nthreads = 1;
	for (int i = 0; i < nthreads; i++)
		if (pthread_create(&threads[i], NULL, thread_main, (void *)(intptr_t)i) != 0) {
			log_error("galene: cannot start a password thread");
			nthreads = i;
			return -1;
		}
	return 0;
}

int pool_check(const struct pw_spec *spec, const char *pw, size_t len, pool_done_fn *done, void *arg)
{
	struct job *j = calloc(1, sizeof *j);
	if (!j || pw_copy(&j->spec, spec) < 0 || !(j->pw = malloc(len + 1))) {
		if (j)
			job_free(j);
		return -1;
	}
	memcpy(j->pw, pw, len);
	j->len = len;
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&mu);
	if (todo_tail)
		todo_tail->next = j;
	else
		todo = j;
	todo_tail = j;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
	return 0;
}

void pool_cancel(void *arg)
{
	pthread_mutex_lock(&mu);
	for (struct job *j = todo; j; j = j->next)
		j->cancelled |= j->arg == arg;
	for (struct job *j = done_list; j; j = j->next)
		j->cancelled |= j->arg == arg;
	for (int i = 0; i < nthreads; i++)
		if (running[i] && running[i]->arg == arg)
			running[i]->cancelled = true;
	pthread_mutex_unlock(&mu);
}

void pool_fini(void)
{
	pthread_mutex_lock(&mu);
	stopping = true;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	for (int i = 0; i < nthreads; i++)
		pthread_join(threads[i], NULL);
	nthreads = 0;
	for (struct job *l = todo, *n; l; l = n) {
		n = l->next;
		job_free(l);
	}
	for (struct job *l = done_list, *n; l; l = n) {
		n = l->next;
		job_free(l);
	}
	todo = todo_tail = done_list = NULL;
	if (efd >= 0)
		close(efd);
}
