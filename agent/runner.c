/* Probe isolation: every probe instance runs in its own forked worker per
 * cycle (docs/agent.md, "Isolation"). The worker calls init/run/fini (or
 * init/check/fini) and writes its result as one JSON document to a pipe; the
 * parent polls all pipes at once, feeds the watchdog through tick() while it
 * waits, and SIGKILLs the worker's process group at the deadline. A worker
 * that hangs in an uninterruptible syscall (dead NFS mount), crashes, or
 * leaks memory or descriptors costs the agent nothing but that probe's result. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/agent.h"

#define WORKER_MAX_OUTPUT (8 * 1024 * 1024)
#define MAX_ORPHANS       64

/* Workers killed at their deadline that did not die at once (stuck in an
 * uninterruptible sleep): reaped later so they never become a stall. */
static pid_t orphans[MAX_ORPHANS];

static void reap_orphans(void)
{
	for (size_t i = 0; i < MAX_ORPHANS; i++)
		if (orphans[i] > 0 && waitpid(orphans[i], NULL, WNOHANG) != 0)
			orphans[i] = 0;
}

static void add_orphan(pid_t pid)
{
	for (size_t i = 0; i < MAX_ORPHANS; i++)
		if (orphans[i] <= 0) {
			orphans[i] = pid;
			return;
		}
}

struct worker {
	pid_t pid;
	int fd;
	bool eof, reaped, killed;
	int wstatus;
	int64_t started_ms, ended_ms;
	struct ep_buf out;
};

static int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* In the worker: never returns. */
static void worker_main(const struct agent_instance *in, const char *root, const char *state_dir,
			int64_t timeout_ms, enum agent_run_mode mode, int fd)
{
	struct ep_probe_env env = {.root = root,
				   .state_dir = state_dir,
				   .instance = in->section ? in->section->instance : NULL,
				   .fresh = mode == AGENT_RUN_FRESH};
	struct ep_probe_result r = {.status = EP_STATUS_OK};
	struct ep_deadline d = ep_deadline_in(timeout_ms);
	void *ctx = NULL;
	char err[1024] = "";
	sigset_t all;
	json_t *o;
	char *text;
	int devnull;

	/* die with the agent; signals back to their defaults */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	setpgid(0, 0);
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	/* a probe never prints: keep stdout (once --print) clean whatever it does */
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull >= 0) {
		dup2(devnull, STDIN_FILENO);
		dup2(devnull, STDOUT_FILENO);
		close(devnull);
	}

	r.metrics = json_object();
	r.findings = json_array();
	r.state = agent_probe_state_load(state_dir, in->name);
	if (!r.metrics || !r.findings || !r.state)
		_exit(70);
	if (in->probe->init(in->section, &env, &ctx, err, sizeof(err)) < 0) {
		ep_probe_fail(&r, EP_STATUS_ERROR, "%s", err[0] ? err : "initialisation failed");
	} else {
		if (mode == AGENT_RUN_CHECK) {
			if (in->probe->check && in->probe->check(ctx, &d, err, sizeof(err)) < 0)
				ep_probe_fail(&r, EP_STATUS_ERROR, "%s",
					      err[0] ? err : "check failed");
		} else {
			in->probe->run(ctx, &d, &r);
		}
		if (in->probe->fini)
			in->probe->fini(ctx);
	}
	if (r.status == EP_STATUS_OK)
		r.error[0] = '\0';
	o = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o}", "status", ep_probe_status_name(r.status),
		      "error", r.error, "target", r.target, "metrics", r.metrics, "findings",
		      r.findings, "state", r.state);
	if (!o)
		_exit(71);
	text = json_dumps(o, JSON_COMPACT);
	if (!text)
		_exit(71);
	if (write_all(fd, text, strlen(text)) < 0)
		_exit(72);
	_exit(0);
}

static void outcome_error(struct agent_probe_outcome *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void outcome_error(struct agent_probe_outcome *o, const char *fmt, ...)
{
	va_list ap;

	o->status = EP_STATUS_ERROR;
	va_start(ap, fmt);
	vsnprintf(o->error, sizeof(o->error), fmt, ap);
	va_end(ap);
	json_decref(o->metrics);
	json_decref(o->findings);
	json_decref(o->state);
	o->metrics = json_object();
	o->findings = json_array();
	o->state = NULL;
}

static void parse_output(struct worker *w, struct agent_probe_outcome *o)
{
	json_error_t jerr;
	json_t *doc, *v;
	const char *status;

	doc = json_loadb(w->out.data ? w->out.data : "", w->out.len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(doc)) {
		outcome_error(o, "probe worker returned no valid result (%s)",
			      doc ? "not an object" : jerr.text);
		json_decref(doc);
		return;
	}
	status = json_string_value(json_object_get(doc, "status"));
	if (status && strcmp(status, "ok") == 0)
		o->status = EP_STATUS_OK;
	else if (status && strcmp(status, "skipped") == 0)
		o->status = EP_STATUS_SKIPPED;
	else
		o->status = EP_STATUS_ERROR;
	v = json_object_get(doc, "error");
	ep_snprintf(o->error, sizeof(o->error), "%s",
		    json_is_string(v) ? json_string_value(v) : "");
	if (o->status == EP_STATUS_ERROR && !o->error[0])
		ep_snprintf(o->error, sizeof(o->error), "probe failed without saying why");
	v = json_object_get(doc, "target");
	ep_snprintf(o->target, sizeof(o->target), "%s",
		    json_is_string(v) ? json_string_value(v) : "");
	v = json_object_get(doc, "metrics");
	if (json_is_object(v)) {
		json_decref(o->metrics);
		o->metrics = json_incref(v);
	}
	v = json_object_get(doc, "findings");
	if (json_is_array(v)) {
		json_decref(o->findings);
		o->findings = json_incref(v);
	}
	v = json_object_get(doc, "state");
	if (json_is_object(v))
		o->state = json_incref(v);
	json_decref(doc);
}

static void finish_worker(struct worker *w, struct agent_probe_outcome *o, int64_t timeout_ms)
{
	o->duration_ms = (w->ended_ms ? w->ended_ms : ep_mono_ms()) - w->started_ms;
	if (w->killed) {
		if (timeout_ms % 1000 == 0)
			outcome_error(o, "timed out after %lld s", (long long)(timeout_ms / 1000));
		else
			outcome_error(o, "timed out after %lld ms", (long long)timeout_ms);
		return;
	}
	if (!w->reaped)
		return;
	if (WIFSIGNALED(w->wstatus)) {
		outcome_error(o, "probe worker died: killed by signal %d (%s)",
			      WTERMSIG(w->wstatus), strsignal(WTERMSIG(w->wstatus)));
		return;
	}
	if (WIFEXITED(w->wstatus) && WEXITSTATUS(w->wstatus) != 0) {
		outcome_error(o, "probe worker exited with status %d", WEXITSTATUS(w->wstatus));
		return;
	}
	if (w->out.len >= WORKER_MAX_OUTPUT) {
		outcome_error(o, "probe result larger than %d bytes", WORKER_MAX_OUTPUT);
		return;
	}
	parse_output(w, o);
}

static void kill_worker(struct worker *w)
{
	if (w->pid <= 0 || w->reaped)
		return;
	kill(-w->pid, SIGKILL);
	kill(w->pid, SIGKILL);
	/* a process in D state dies when its syscall returns: do not wait for it */
	for (int i = 0; i < 20; i++) {
		pid_t p = waitpid(w->pid, &w->wstatus, WNOHANG);
		if (p == w->pid || (p < 0 && errno != EINTR)) {
			w->reaped = true;
			return;
		}
		usleep(5000);
	}
	add_orphan(w->pid);
	w->reaped = true;
}

int agent_run_probes(const struct agent_instance *instances, size_t n, const char *root,
		     const char *state_dir, int64_t timeout_ms, enum agent_run_mode mode,
		     agent_tick_fn tick, void *userdata, struct agent_probe_outcome **ret)
{
	struct worker *w = calloc(n ? n : 1, sizeof(*w));
	struct agent_probe_outcome *o = calloc(n ? n : 1, sizeof(*o));
	struct pollfd *pfd = calloc(n ? n : 1, sizeof(*pfd));
	int64_t deadline_ms;
	size_t *idx = calloc(n ? n : 1, sizeof(*idx));
	int r = 0;

	if (!w || !o || !pfd || !idx) {
		r = -ENOMEM;
		goto fail;
	}
	reap_orphans();
	fflush(NULL);
	for (size_t i = 0; i < n; i++) {
		w[i].fd = -1;
		ep_buf_init(&w[i].out, WORKER_MAX_OUTPUT);
	}
	for (size_t i = 0; i < n; i++) {
		int p[2];

		ep_snprintf(o[i].name, sizeof(o[i].name), "%s", instances[i].name);
		o[i].metrics = json_object();
		o[i].findings = json_array();
		if (!o[i].metrics || !o[i].findings) {
			r = -ENOMEM;
			goto fail;
		}
		if (pipe2(p, O_CLOEXEC) < 0) {
			outcome_error(&o[i], "cannot create a pipe for the probe worker: %m");
			w[i].reaped = w[i].eof = true;
			continue;
		}
		w[i].started_ms = ep_mono_ms();
		w[i].pid = fork();
		if (w[i].pid < 0) {
			outcome_error(&o[i], "cannot fork the probe worker: %m");
			close(p[0]);
			close(p[1]);
			w[i].reaped = w[i].eof = true;
			continue;
		}
		if (w[i].pid == 0) {
			close(p[0]);
			worker_main(&instances[i], root, state_dir, timeout_ms, mode, p[1]);
		}
		setpgid(w[i].pid, w[i].pid); /* also done by the child: no race */
		close(p[1]);
		/* never block on it: a grandchild that escaped the process group
		 * could hold the write end open forever */
		fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
		w[i].fd = p[0];
	}
	deadline_ms = ep_mono_ms() + timeout_ms;

	for (;;) {
		size_t np = 0;
		bool waiting = false;
		int64_t now = ep_mono_ms(), wait_ms;

		for (size_t i = 0; i < n; i++) {
			if (!w[i].eof) {
				pfd[np].fd = w[i].fd;
				pfd[np].events = POLLIN;
				idx[np++] = i;
			}
			if (!w[i].reaped)
				waiting = true;
		}
		if (!waiting)
			break;
		if (now >= deadline_ms) {
			for (size_t i = 0; i < n; i++)
				if (!w[i].reaped) {
					w[i].killed = true;
					kill_worker(&w[i]);
				}
			break;
		}
		wait_ms = deadline_ms - now;
		if (wait_ms > 200)
			wait_ms = 200;
		if (np == 0 && wait_ms > 5)
			wait_ms = 5; /* only reaping left: workers exit right after EOF */
		if (poll(pfd, np, (int)wait_ms) < 0 && errno != EINTR) {
			r = -errno;
			goto fail;
		}
		for (size_t k = 0; k < np; k++) {
			struct worker *x = &w[idx[k]];
			char buf[65536];
			ssize_t got;

			if (!(pfd[k].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			got = read(x->fd, buf, sizeof(buf));
			if (got < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (got > 0 && ep_buf_append(&x->out, buf, (size_t)got) == 0)
				continue;
			if (got > 0) { /* over the cap: stop it */
				x->out.len = WORKER_MAX_OUTPUT;
				kill(-x->pid, SIGKILL);
			}
			x->eof = true;
			x->ended_ms = ep_mono_ms();
			close(x->fd);
			x->fd = -1;
		}
		for (size_t i = 0; i < n; i++) {
			if (w[i].reaped || w[i].pid <= 0)
				continue;
			pid_t p = waitpid(w[i].pid, &w[i].wstatus, WNOHANG);
			if (p == w[i].pid) {
				w[i].reaped = true;
				/* kill any grandchild the probe left behind */
				kill(-w[i].pid, SIGKILL);
				if (!w[i].eof) { /* drain what it wrote before exiting */
					char buf[65536];
					ssize_t got;
					while ((got = read(w[i].fd, buf, sizeof(buf))) > 0)
						if (ep_buf_append(&w[i].out, buf, (size_t)got) < 0)
							break;
					w[i].eof = true;
					w[i].ended_ms = ep_mono_ms();
					close(w[i].fd);
					w[i].fd = -1;
				}
			}
		}
		if (tick) { /* tick rate-limits itself (watchdog) */
			if (tick(userdata)) {
				for (size_t i = 0; i < n; i++)
					kill_worker(&w[i]);
				r = -ECANCELED;
				goto fail;
			}
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (w[i].pid > 0)
			finish_worker(&w[i], &o[i], timeout_ms);
		if (w[i].fd >= 0)
			close(w[i].fd);
		ep_buf_free(&w[i].out);
	}
	free(w);
	free(pfd);
	free(idx);
	*ret = o;
	return 0;
fail:
	if (w)
		for (size_t i = 0; i < n; i++) {
			kill_worker(&w[i]);
			if (w[i].fd >= 0)
				close(w[i].fd);
			ep_buf_free(&w[i].out);
		}
	free(w);
	free(pfd);
	free(idx);
	agent_outcomes_free(o, n);
	return r;
}

void agent_outcomes_free(struct agent_probe_outcome *o, size_t n)
{
	if (!o)
		return;
	for (size_t i = 0; i < n; i++) {
		json_decref(o[i].metrics);
		json_decref(o[i].findings);
		json_decref(o[i].state);
	}
	free(o);
}
