/* The daemon: systemd Type=notify (READY=1, STATUS=, WATCHDOG=1), jittered
 * cycles, delivery with backoff between them, SIGHUP reload that keeps the
 * running configuration when the new one is invalid, SIGTERM within seconds,
 * and the switch from root to the agent user. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent.h"

#define BACKOFF_BASE_S 5
#define BACKOFF_CAP_S  300

static volatile sig_atomic_t g_stop, g_hup;
static int g_wake[2] = {-1, -1};

static void on_signal(int sig)
{
	int saved = errno;

	if (sig == SIGHUP)
		g_hup = 1;
	else
		g_stop = 1;
	if (g_wake[1] >= 0)
		(void)!write(g_wake[1], "x", 1);
	errno = saved;
}

struct daemon {
	struct agent_ctx a;
	uint64_t wd_usec;
	int64_t last_wd_ms;
};

static void feed_watchdog(struct daemon *d, bool force)
{
	int64_t now = ep_mono_ms();

	if (!d->wd_usec)
		return;
	if (force || now - d->last_wd_ms >= (int64_t)(d->wd_usec / 4000)) {
		sd_notify(0, "WATCHDOG=1");
		d->last_wd_ms = now;
	}
}

static bool tick(void *userdata)
{
	struct daemon *d = userdata;

	feed_watchdog(d, false);
	return g_stop != 0;
}

static void notify_status(struct daemon *d)
{
	struct agent_spool_stats s = {0};
	const char *last = d->a.st.last_push[0] ? d->a.st.last_push : "none yet";

	agent_spool_stats(d->a.spool_dir, &s);
	sd_notifyf(0, "STATUS=last push: %s; spool: %lld report(s)", last, (long long)s.count);
}

static int64_t rand_upto(int64_t max)
{
	uint64_t r;

	if (max <= 0)
		return 0;
	ep_random_bytes(&r, sizeof(r));
	return (int64_t)(r % (uint64_t)(max + 1));
}

int64_t agent_next_cycle_ms(const struct agent_conf *c, int64_t from)
{
	int64_t ms = c->interval_s * 1000 + rand_upto(c->jitter_s * 1000) - c->jitter_s * 500;

	return from + (ms < 1000 ? 1000 : ms);
}

int agent_lock_state(const char *state_dir, char *err, size_t errlen)
{
	char path[4096];
	int fd;

	ep_snprintf(path, sizeof(path), "%s/lock", state_dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		int r = -errno;
		ep_snprintf(err, errlen, "cannot open the lock file '%s': %s", path, strerror(-r));
		return r;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int r = -errno;
		close(fd);
		ep_snprintf(err, errlen,
			    r == -EWOULDBLOCK
				    ? "another erpulse-agent is running with state directory '%s'"
				    : "cannot lock '%s'",
			    state_dir);
		return r == -EWOULDBLOCK ? -EBUSY : r;
	}
	return fd; /* held until exit */
}

static uid_t g_chown_uid;
static gid_t g_chown_gid;

static int chown_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)flag;
	(void)ftw;
	if ((st->st_uid != g_chown_uid || st->st_gid != g_chown_gid) &&
	    lchown(path, g_chown_uid, g_chown_gid) != 0 && errno != ENOENT)
		ep_log_warning("cannot chown '%s': %m", path);
	return 0;
}

int agent_drop_privileges(const struct agent_conf *conf, char *err, size_t errlen)
{
	struct passwd *pw;
	uid_t uid;
	gid_t gid;

	if (geteuid() != 0)
		return 0;
	if (conf->allow_root)
		return 0;
	errno = 0;
	pw = getpwnam(conf->user);
	if (!pw) {
		ep_snprintf(err, errlen,
			    "refusing to run as root: user '%s' does not exist (create it, set "
			    "[agent] user, or set allow_root = yes)",
			    conf->user);
		return -ESRCH;
	}
	uid = pw->pw_uid;
	gid = pw->pw_gid;
	if (uid == 0) {
		ep_snprintf(err, errlen,
			    "refusing to run as root: [agent] user '%s' is root (set allow_root = "
			    "yes to mean it)",
			    conf->user);
		return -EPERM;
	}
	/* everything in the state directory (spool files an earlier run as root
	 * left included) must stay readable and writable after the switch;
	 * only what is not owned yet is touched, symlinks are not followed */
	if (ep_mkdir_p(conf->state_dir, 0750) == 0) {
		g_chown_uid = uid;
		g_chown_gid = gid;
		nftw(conf->state_dir, chown_entry, 16, FTW_PHYS | FTW_MOUNT);
	}
	if (initgroups(pw->pw_name, gid) != 0 || setgid(gid) != 0 || setuid(uid) != 0) {
		ep_snprintf(err, errlen, "cannot switch to user '%s': %s", conf->user,
			    strerror(errno));
		return -EPERM;
	}
	if (setuid(0) == 0 || geteuid() != uid || getegid() != gid) {
		ep_snprintf(err, errlen, "switching to user '%s' did not drop root", conf->user);
		return -EPERM;
	}
	return 0;
}

/* SIGHUP: the new configuration replaces the running one only when valid. */
static void reload(struct daemon *d)
{
	struct agent_conf *nc = NULL;
	struct ep_buf problems;
	int r;

	ep_buf_init(&problems, 64 * 1024);
	r = agent_conf_load(d->a.conf->path, &nc, &problems);
	if (r < 0) {
		/* one line per problem keeps the journal readable */
		ep_log_err("reload of '%s' failed, keeping the running configuration: %s",
			   d->a.conf->path, problems.data ? problems.data : strerror(-r));
		ep_buf_free(&problems);
		return;
	}
	ep_buf_free(&problems);
	if (strcmp(nc->state_dir, d->a.conf->state_dir) != 0 ||
	    strcmp(nc->user, d->a.conf->user) != 0) {
		ep_log_err("reload of '%s': state_dir and user changes need a restart; keeping the "
			   "running configuration",
			   nc->path);
		agent_conf_free(nc);
		return;
	}
	agent_conf_free(d->a.conf);
	d->a.conf = nc;
	ep_log_set_level(nc->log_level);
	ep_log_notice("configuration reloaded from '%s' (%zu probe instance(s))", nc->path,
		      nc->n_instances);
}

static int setup_signals(void)
{
	struct sigaction sa;

	if (pipe2(g_wake, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

static void wait_until(struct daemon *d, int64_t until_ms)
{
	for (;;) {
		int64_t now = ep_mono_ms(), wait;
		struct pollfd p = {.fd = g_wake[0], .events = POLLIN};
		char buf[64];

		feed_watchdog(d, false);
		if (g_stop || g_hup || now >= until_ms)
			return;
		wait = until_ms - now;
		if (d->wd_usec && wait > (int64_t)(d->wd_usec / 4000))
			wait = (int64_t)(d->wd_usec / 4000);
		if (wait > 60000)
			wait = 60000;
		if (poll(&p, 1, (int)(wait < 1 ? 1 : wait)) > 0)
			while (read(g_wake[0], buf, sizeof(buf)) > 0)
				;
	}
}

int agent_daemon(const char *config_path)
{
	struct daemon d;
	struct ep_buf problems;
	char err[1024], keypath[4096];
	int64_t next_cycle, next_delivery = 0, not_before = 0;
	unsigned attempt = 0;
	int r, rc = AGENT_EXIT_FAILURE, lockfd = -1;

	memset(&d, 0, sizeof(d));
	d.a.stop = &g_stop;
	d.a.tick = tick;
	d.a.userdata = &d;
	ep_buf_init(&problems, 64 * 1024);
	r = agent_conf_load(config_path, &d.a.conf, &problems);
	if (r < 0) {
		fprintf(stderr, "%s", problems.data ? problems.data : "");
		fprintf(stderr, "erpulse-agent: configuration invalid, not starting\n");
		ep_buf_free(&problems);
		return AGENT_EXIT_CONFIG;
	}
	ep_buf_free(&problems);
	ep_log_set_level(d.a.conf->log_level);
	if (setup_signals() < 0) {
		ep_log_err("cannot set up signal handling: %m");
		goto out;
	}
	if (agent_drop_privileges(d.a.conf, err, sizeof(err)) < 0) {
		ep_log_err("%s", err);
		goto out;
	}
	if (geteuid() == 0)
		ep_log_warning("running as root (allow_root = yes)");
	r = ep_mkdir_p(d.a.conf->state_dir, 0750);
	if (r < 0) {
		ep_log_err("cannot create the state directory '%s': %s", d.a.conf->state_dir,
			   strerror(-r));
		goto out;
	}
	lockfd = agent_lock_state(d.a.conf->state_dir, err, sizeof(err));
	if (lockfd < 0) {
		ep_log_err("%s", err);
		goto out;
	}
	r = agent_state_load(d.a.conf->state_dir, &d.a.st, err, sizeof(err));
	if (r < 0) {
		ep_log_err("%s", err);
		goto out;
	}
	if (!agent_state_enrolled(&d.a.st)) {
		ep_log_err("not enrolled: run erpulse-agent enroll --collector URL --token TOKEN");
		rc = AGENT_EXIT_NOT_ENROLLED;
		goto out;
	}
	ep_snprintf(keypath, sizeof(keypath), "%s/agent.key", d.a.conf->state_dir);
	r = ep_key_load(keypath, &d.a.key, err, sizeof(err));
	if (r < 0) {
		ep_log_err("%s", err);
		rc = r == -ENOENT ? AGENT_EXIT_NOT_ENROLLED : AGENT_EXIT_FAILURE;
		goto out;
	}
	d.a.have_key = true;
	d.a.budget_ms = 60000; /* then the loop runs cycles, reloads, signals */
	agent_spool_dir(d.a.conf->state_dir, d.a.spool_dir, sizeof(d.a.spool_dir));
	ep_mkdir_p(d.a.spool_dir, 0700);

	if (sd_watchdog_enabled(0, &d.wd_usec) <= 0)
		d.wd_usec = 0;
	sd_notify(0, "READY=1");
	notify_status(&d);
	feed_watchdog(&d, true);
	ep_log_notice("started: agent %s, collector %s, %zu probe instance(s), every %lld s",
		      d.a.st.agent_id, agent_collector_url(&d.a) ? agent_collector_url(&d.a) : "?",
		      d.a.conf->n_instances, (long long)d.a.conf->interval_s);

	/* the first cycle is spread over the jitter too: a fleet rebooted together
	 * does not push together */
	next_cycle = ep_mono_ms() + rand_upto(d.a.conf->jitter_s * 1000);
	{
		/* what an earlier run left in the spool goes out now, unless the
		 * first cycle (which delivers too) is about to start anyway */
		struct agent_spool_stats s;
		if (agent_spool_stats(d.a.spool_dir, &s) == 0 && s.count > 0 &&
		    next_cycle - ep_mono_ms() > 5000)
			next_delivery = ep_mono_ms();
	}
	while (!g_stop) {
		int64_t now;

		if (g_hup) {
			g_hup = 0;
			sd_notify(0, "RELOADING=1");
			reload(&d);
			sd_notify(0, "READY=1");
			notify_status(&d);
		}
		now = ep_mono_ms();
		if (now >= next_cycle) {
			next_cycle = agent_next_cycle_ms(d.a.conf, now);
			agent_cycle(&d.a, false, NULL, NULL);
			if (g_stop)
				break;
			if (now >= not_before)
				next_delivery = now; /* deliver right after each cycle */
			notify_status(&d);
		}
		now = ep_mono_ms();
		if (next_delivery && now >= next_delivery) {
			enum agent_deliver_result dr = agent_deliver(&d.a);
			int64_t delay;

			now = ep_mono_ms();
			switch (dr) {
			case AGENT_DELIVER_EMPTY:
				attempt = 0;
				next_delivery = 0;
				not_before = 0;
				break;
			case AGENT_DELIVER_RETRY:
				if (g_stop)
					break;
				delay = agent_backoff_s(attempt, BACKOFF_BASE_S, BACKOFF_CAP_S,
							d.a.retry_after_s);
				if (attempt < 30)
					attempt++;
				next_delivery = now + delay * 1000;
				not_before = d.a.retry_after_s >= 0 ? next_delivery : 0;
				if (next_delivery <= now)
					next_delivery = now + 1;
				ep_log_warning("%s; retrying in %lld s", d.a.problem,
					       (long long)delay);
				break;
			case AGENT_DELIVER_MORE:
				next_delivery = now; /* right after what is due now */
				break;
			case AGENT_DELIVER_BLOCKED:
				ep_log_err("%s; trying again next cycle", d.a.problem);
				next_delivery = 0;
				break;
			}
			notify_status(&d);
		}
		wait_until(&d, next_delivery && next_delivery < next_cycle ? next_delivery
									   : next_cycle);
	}
	sd_notify(0, "STOPPING=1");
	ep_log_notice("stopping");
	rc = AGENT_EXIT_OK;
out:
	ep_key_wipe(&d.a.key);
	agent_state_free(&d.a.st);
	agent_conf_free(d.a.conf);
	if (lockfd >= 0)
		close(lockfd);
	return rc;
}
