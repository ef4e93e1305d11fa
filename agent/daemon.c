/* The daemon, the heavy half: `erpulse-agent run` loads and checks the
 * configuration, switches from root to the agent user, takes the state lock,
 * then execs the small resident supervisor erpulse-agentd
 * (agent/supervisor/agentd.c), which keeps the schedule and speaks
 * sd_notify. For every cycle the supervisor runs this binary again with the
 * hidden commands of agent_daemon_child(): `_cycle` (probes, report, sign,
 * spool, deliver with the daemon's budget and backoff, then exit) and
 * `_reload` (SIGHUP: validate the new configuration, keep the running one
 * when it is invalid). So libcurl, OpenSSL, libpq, unixODBC and PCRE2 are
 * mapped only while a cycle runs (docs/agent.md, docs/agent-footprint.md). */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/supervisor/protocol.h"

#ifndef EP_LIBEXECDIR
#define EP_LIBEXECDIR "/usr/local/libexec"
#endif

#define BACKOFF_BASE_S 5
#define BACKOFF_CAP_S  300

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

	int rc = ep_mkdir_p(state_dir, 0750);
	if (rc < 0) {
		ep_snprintf(err, errlen, "cannot create the state directory '%s': %s", state_dir,
			    strerror(-rc));
		return rc;
	}
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

/* ---- the configuration the cycle processes read ---------------------------
 * A copy in a memfd, made when the file was found valid: a file edited into
 * something broken never reaches a cycle; SIGHUP replaces the copy only when
 * the new file is valid. */

/* Loads the copy in fd; messages and c->path name the real file. */
static int load_conf_fd(int fd, const char *real_path, struct agent_conf **ret,
			struct ep_buf *problems)
{
	char proc[64];
	char *p;
	int r;

	ep_snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	r = agent_conf_load(proc, ret, problems);
	if (r < 0)
		return r;
	p = strdup(real_path);
	if (!p) {
		agent_conf_free(*ret);
		*ret = NULL;
		return -ENOMEM;
	}
	free((*ret)->path);
	(*ret)->path = p;
	return 0;
}

/* Copies path into fd (from its start) and checks the copy loads: the file
 * may have changed since it was validated. 0 or -errno with err. */
static int snapshot_conf(const char *path, int fd, char *err, size_t errlen)
{
	struct agent_conf *c = NULL;
	struct ep_buf problems;
	char *data = NULL;
	size_t len = 0, off = 0;
	int r;

	r = ep_read_file(path, 16 * 1024 * 1024, &data, &len);
	if (r < 0) {
		ep_snprintf(err, errlen, "cannot read '%s': %s", path, strerror(-r));
		return r;
	}
	if (ftruncate(fd, 0) < 0)
		goto fail;
	while (off < len) {
		ssize_t n = pwrite(fd, data + off, len - off, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		off += (size_t)n;
	}
	free(data);
	ep_buf_init(&problems, 64 * 1024);
	r = load_conf_fd(fd, path, &c, &problems);
	ep_buf_free(&problems);
	agent_conf_free(c);
	if (r < 0)
		ep_snprintf(err, errlen, "'%s' changed while it was read; try again", path);
	return r < 0 ? r : 0;
fail:
	r = errno ? -errno : -EIO;
	free(data);
	ep_snprintf(err, errlen, "cannot copy the configuration: %s", strerror(-r));
	return r;
}

/* erpulse-agentd next to this binary (a build tree), else in
 * ../libexec/erpulse relative to it (an install under any prefix), else in
 * the libexec directory compiled in. 0 or -ENOENT with err. */
static int find_supervisor(const char *self, char *buf, size_t size, char *err, size_t errlen)
{
	char dir[PATH_MAX], paths[3][PATH_MAX + 64];
	const char *slash = strrchr(self, '/');

	ep_snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - self) : 1, slash ? self : ".");
	ep_snprintf(paths[0], sizeof(paths[0]), "%s/" AGENTD_NAME, dir);
	ep_snprintf(paths[1], sizeof(paths[1]), "%s/../libexec/erpulse/" AGENTD_NAME, dir);
	ep_snprintf(paths[2], sizeof(paths[2]), "%s/erpulse/" AGENTD_NAME, EP_LIBEXECDIR);
	for (size_t i = 0; i < 3; i++) {
		if (access(paths[i], X_OK) == 0) {
			ep_snprintf(buf, size, "%s", paths[i]);
			return 0;
		}
	}
	ep_snprintf(err, errlen,
		    "cannot find the daemon's supervisor: no executable '%s', '%s' nor '%s' "
		    "(reinstall erpulse-agent)",
		    paths[0], paths[1], paths[2]);
	return -ENOENT;
}

static int block_signals(int how)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	return sigprocmask(how, &set, NULL);
}

int agent_daemon(const char *config_path)
{
	struct agent_ctx a;
	struct ep_buf problems;
	struct agent_spool_stats s = {0};
	struct ep_keypair key;
	char err[1024], keypath[4096], self[PATH_MAX], sup[PATH_MAX + 64];
	char status[1100], n_cfd[16], n_lock[16], n_iv[24], n_jit[24], n_cap[24];
	const char *argv[24];
	ssize_t n;
	int r, rc = AGENT_EXIT_FAILURE, lockfd = -1, cfd = -1, k = 0;

	memset(&a, 0, sizeof(a));
	memset(&key, 0, sizeof(key));
	/* a SIGTERM or SIGHUP from now on waits for the supervisor's handlers */
	block_signals(SIG_BLOCK);
	ep_buf_init(&problems, 64 * 1024);
	r = agent_conf_load(config_path, &a.conf, &problems);
	if (r < 0) {
		fprintf(stderr, "%s", problems.data ? problems.data : "");
		fprintf(stderr, "erpulse-agent: configuration invalid, not starting\n");
		ep_buf_free(&problems);
		rc = AGENT_EXIT_CONFIG;
		goto out;
	}
	ep_buf_free(&problems);
	ep_log_set_level(a.conf->log_level);
	if (agent_drop_privileges(a.conf, err, sizeof(err)) < 0) {
		ep_log_err("%s", err);
		goto out;
	}
	if (geteuid() == 0)
		ep_log_warning("running as root (allow_root = yes)");
	lockfd = agent_lock_state(a.conf->state_dir, err, sizeof(err));
	if (lockfd < 0) {
		ep_log_err("%s", err);
		goto out;
	}
	r = agent_state_load(a.conf->state_dir, &a.st, err, sizeof(err));
	if (r < 0) {
		ep_log_err("%s", err);
		goto out;
	}
	if (!agent_state_enrolled(&a.st)) {
		ep_log_err("not enrolled: run erpulse-agent enroll --collector URL --token TOKEN");
		rc = AGENT_EXIT_NOT_ENROLLED;
		goto out;
	}
	/* the key is loaded by each cycle; here only checked, so a missing or
	 * unsafe key stops the start with its message */
	ep_snprintf(keypath, sizeof(keypath), "%s/agent.key", a.conf->state_dir);
	r = ep_key_load(keypath, &key, err, sizeof(err));
	ep_key_wipe(&key);
	if (r < 0) {
		ep_log_err("%s", err);
		rc = r == -ENOENT ? AGENT_EXIT_NOT_ENROLLED : AGENT_EXIT_FAILURE;
		goto out;
	}
	agent_spool_dir(a.conf->state_dir, a.spool_dir, sizeof(a.spool_dir));
	ep_mkdir_p(a.spool_dir, 0700);
	agent_spool_stats(a.spool_dir, &s);

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0) {
		ep_log_err("cannot find this program's path: %m");
		goto out;
	}
	self[n] = '\0';
	if (find_supervisor(self, sup, sizeof(sup), err, sizeof(err)) < 0) {
		ep_log_err("%s", err);
		goto out;
	}
	cfd = memfd_create("erpulse-agent.conf", 0); /* inherited by the supervisor */
	if (cfd < 0) {
		ep_log_err("cannot create a memfd for the configuration: %m");
		goto out;
	}
	if (snapshot_conf(a.conf->path, cfd, err, sizeof(err)) < 0) {
		ep_log_err("%s", err);
		goto out;
	}
	if (fcntl(lockfd, F_SETFD, 0) < 0) {
		ep_log_err("cannot hand the state lock over: %m");
		goto out;
	}
	ep_snprintf(status, sizeof(status), "last push: %s; spool: %lld report(s)",
		    a.st.last_push[0] ? a.st.last_push : "none yet", (long long)s.count);
	ep_snprintf(n_cfd, sizeof(n_cfd), "%d", cfd);
	ep_snprintf(n_lock, sizeof(n_lock), "%d", lockfd);
	ep_snprintf(n_iv, sizeof(n_iv), "%lld", (long long)a.conf->interval_s);
	ep_snprintf(n_jit, sizeof(n_jit), "%lld", (long long)a.conf->jitter_s);
	ep_snprintf(n_cap, sizeof(n_cap), "%lld",
		    (long long)(a.conf->probe_timeout_s + AGENTD_CAP_EXTRA_S));
	argv[k++] = AGENTD_NAME;
	argv[k++] = "--agent";
	argv[k++] = self;
	argv[k++] = "--config";
	argv[k++] = a.conf->path;
	argv[k++] = "--config-fd";
	argv[k++] = n_cfd;
	argv[k++] = "--lock-fd";
	argv[k++] = n_lock;
	argv[k++] = "--interval";
	argv[k++] = n_iv;
	argv[k++] = "--jitter";
	argv[k++] = n_jit;
	argv[k++] = "--cap";
	argv[k++] = n_cap;
	argv[k++] = "--status";
	argv[k++] = status;
	if (s.count > 0)
		argv[k++] = "--deliver-now";
	argv[k] = NULL;
	ep_log_notice("started: agent %s, collector %s, %zu probe instance(s), every %lld s",
		      a.st.agent_id, agent_collector_url(&a) ? agent_collector_url(&a) : "?",
		      a.conf->n_instances, (long long)a.conf->interval_s);
	fflush(NULL);
	execv(sup, (char *const *)(uintptr_t)argv);
	ep_log_err("cannot start '%s': %m", sup);
out:
	block_signals(SIG_UNBLOCK);
	agent_state_free(&a.st);
	agent_conf_free(a.conf);
	if (cfd >= 0)
		close(cfd);
	if (lockfd >= 0)
		close(lockfd);
	return rc;
}

/* ---- the cycle process ------------------------------------------------------ */

#define BACKOFF_FILE "delivery"

static volatile sig_atomic_t g_child_stop;

static void on_child_signal(int sig)
{
	(void)sig;
	g_child_stop = 1;
}

static bool child_tick(void *userdata)
{
	(void)userdata;
	return g_child_stop != 0;
}

/* The delivery backoff lives in state_dir/delivery between the cycle
 * processes (and across restarts): "attempt N" and "not_before MS" (wall
 * clock ms before which a Retry-After forbids sending). */
static void backoff_load(const char *state_dir, int64_t *attempt, int64_t *not_before)
{
	char path[4096], *data = NULL, *line, *save = NULL;
	size_t len;

	*attempt = 0;
	*not_before = 0;
	ep_snprintf(path, sizeof(path), "%s/" BACKOFF_FILE, state_dir);
	if (ep_read_file(path, 4096, &data, &len) < 0)
		return;
	for (line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "attempt ", 8) == 0)
			ep_parse_int64(line + 8, 0, 30, attempt);
		else if (strncmp(line, "not_before ", 11) == 0)
			ep_parse_int64(line + 11, 0, INT64_MAX / 2, not_before);
	}
	free(data);
}

static void backoff_save(const char *state_dir, int64_t attempt, int64_t not_before)
{
	char path[4096], text[128];
	int r;

	ep_snprintf(path, sizeof(path), "%s/" BACKOFF_FILE, state_dir);
	ep_snprintf(text, sizeof(text), "attempt %lld\nnot_before %lld\n", (long long)attempt,
		    (long long)not_before);
	r = ep_atomic_write(path, text, strlen(text), 0600);
	if (r < 0)
		ep_log_warning("cannot save the delivery backoff to '%s': %s", path, strerror(-r));
}

static int child_cycle(const char *config_path, int cfd, int sfd, bool deliver_only)
{
	struct agent_ctx a;
	struct ep_buf problems;
	struct agent_spool_stats s = {0};
	char err[1024], keypath[4096], last[sizeof(a.st.last_push)];
	int64_t attempt, not_before, next = -1, now;
	int r, rc = AGENT_EXIT_FAILURE;

	memset(&a, 0, sizeof(a));
	a.stop = &g_child_stop;
	a.tick = child_tick;
	ep_buf_init(&problems, 64 * 1024);
	r = load_conf_fd(cfd, config_path, &a.conf, &problems);
	if (r < 0) {
		ep_log_err("cannot load the running configuration: %s",
			   problems.data ? problems.data : strerror(-r));
		ep_buf_free(&problems);
		return AGENT_EXIT_CONFIG;
	}
	ep_buf_free(&problems);
	ep_log_set_level(a.conf->log_level);
	/* the supervisor switched users and holds the state lock for us */
	r = agent_state_load(a.conf->state_dir, &a.st, err, sizeof(err));
	if (r < 0) {
		ep_log_err("%s", err);
		goto out;
	}
	if (!agent_state_enrolled(&a.st)) {
		ep_log_err("not enrolled: run erpulse-agent enroll --collector URL --token TOKEN");
		rc = AGENT_EXIT_NOT_ENROLLED;
		goto out;
	}
	ep_snprintf(keypath, sizeof(keypath), "%s/agent.key", a.conf->state_dir);
	r = ep_key_load(keypath, &a.key, err, sizeof(err));
	if (r < 0) {
		ep_log_err("%s", err);
		rc = r == -ENOENT ? AGENT_EXIT_NOT_ENROLLED : AGENT_EXIT_FAILURE;
		goto out;
	}
	a.have_key = true;
	a.budget_ms = AGENTD_DELIVERY_S * 1000;
	agent_spool_dir(a.conf->state_dir, a.spool_dir, sizeof(a.spool_dir));
	ep_mkdir_p(a.spool_dir, 0700);
	backoff_load(a.conf->state_dir, &attempt, &not_before);

	if (!deliver_only)
		agent_cycle(&a, false, NULL, NULL);
	now = ep_wall_ms();
	if (g_child_stop) {
		next = -1;
	} else if (now < not_before - 500) {
		next = not_before - now; /* Retry-After: not before then */
	} else {
		enum agent_deliver_result dr = agent_deliver(&a);
		int64_t delay;

		now = ep_wall_ms();
		switch (dr) {
		case AGENT_DELIVER_EMPTY:
			attempt = 0;
			not_before = 0;
			next = -1;
			break;
		case AGENT_DELIVER_RETRY:
			if (g_child_stop)
				break;
			delay = agent_backoff_s((unsigned)attempt, BACKOFF_BASE_S, BACKOFF_CAP_S,
						a.retry_after_s);
			if (attempt < 30)
				attempt++;
			next = delay * 1000;
			not_before = a.retry_after_s >= 0 ? now + next : 0;
			if (next < 1)
				next = 1;
			ep_log_warning("%s; retrying in %lld s", a.problem, (long long)delay);
			break;
		case AGENT_DELIVER_MORE:
			next = 0; /* right after what is due now */
			break;
		case AGENT_DELIVER_BLOCKED:
			ep_log_err("%s; trying again next cycle", a.problem);
			next = -1;
			break;
		}
		backoff_save(a.conf->state_dir, attempt, not_before);
	}
	agent_spool_stats(a.spool_dir, &s);
	/* one line each: a newline in the collector's message must not make one */
	ep_snprintf(last, sizeof(last), "%s", a.st.last_push[0] ? a.st.last_push : "none yet");
	for (char *p = last; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	dprintf(sfd, "STATUS=last push: %s; spool: %lld report(s)\nNEXT=%lld\n", last,
		(long long)s.count, (long long)next);
	rc = AGENT_EXIT_OK;
out:
	ep_key_wipe(&a.key);
	agent_state_free(&a.st);
	agent_conf_free(a.conf);
	return rc;
}

/* SIGHUP: the new configuration replaces the running one only when valid. */
static int child_reload(const char *config_path, int cfd, int sfd, int nfd)
{
	struct agent_conf *oc = NULL, *nc = NULL;
	struct ep_buf problems;
	char err[1024];
	int r, rc = AGENT_EXIT_CONFIG;

	ep_buf_init(&problems, 64 * 1024);
	r = load_conf_fd(cfd, config_path, &oc, &problems);
	if (r < 0) {
		ep_log_err("reload: cannot load the running configuration: %s", strerror(-r));
		goto out;
	}
	ep_buf_reset(&problems);
	r = agent_conf_load(config_path, &nc, &problems);
	if (r < 0) {
		/* one line per problem keeps the journal readable */
		ep_log_err("reload of '%s' failed, keeping the running configuration: %s",
			   config_path, problems.data ? problems.data : strerror(-r));
		goto out;
	}
	if (strcmp(nc->state_dir, oc->state_dir) != 0 || strcmp(nc->user, oc->user) != 0 ||
	    nc->allow_root != oc->allow_root) {
		ep_log_err("reload of '%s': state_dir, user and allow_root changes need a restart; "
			   "keeping the running configuration",
			   nc->path);
		goto out;
	}
	if (snapshot_conf(config_path, nfd, err, sizeof(err)) < 0) {
		ep_log_err("reload of '%s' failed, keeping the running configuration: %s",
			   config_path, err);
		goto out;
	}
	ep_log_notice("configuration reloaded from '%s' (%zu probe instance(s))", nc->path,
		      nc->n_instances);
	dprintf(sfd, "CONF %lld %lld %lld\n", (long long)nc->interval_s, (long long)nc->jitter_s,
		(long long)(nc->probe_timeout_s + AGENTD_CAP_EXTRA_S));
	rc = AGENT_EXIT_OK;
out:
	ep_buf_free(&problems);
	agent_conf_free(oc);
	agent_conf_free(nc);
	return rc;
}

int agent_daemon_child(const char *config_path, const char *cmd, int argc, char **argv)
{
	struct sigaction sa;
	int64_t cfd = -1, sfd = -1, nfd = -1;
	bool deliver_only = false;

	for (int i = 0; i < argc; i++) {
		int64_t *dst = NULL;

		if (strcmp(argv[i], "--deliver-only") == 0)
			deliver_only = true;
		else if (strcmp(argv[i], "--config-fd") == 0)
			dst = &cfd;
		else if (strcmp(argv[i], "--status-fd") == 0)
			dst = &sfd;
		else if (strcmp(argv[i], "--new-fd") == 0)
			dst = &nfd;
		if (!dst && !(strcmp(argv[i], "--deliver-only") == 0))
			goto usage;
		if (dst && (i + 1 >= argc || ep_parse_int64(argv[++i], 0, 65535, dst) < 0))
			goto usage;
	}
	if (cfd < 0 || sfd < 0 || (strcmp(cmd, AGENTD_CMD_RELOAD) == 0 && nfd < 0))
		goto usage;
	fcntl((int)cfd, F_SETFD, FD_CLOEXEC);
	fcntl((int)sfd, F_SETFD, FD_CLOEXEC);
	if (nfd >= 0)
		fcntl((int)nfd, F_SETFD, FD_CLOEXEC);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_child_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGHUP, SIG_IGN); /* the supervisor's business */
	signal(SIGPIPE, SIG_IGN);
	if (strcmp(cmd, AGENTD_CMD_RELOAD) == 0)
		return child_reload(config_path, (int)cfd, (int)sfd, (int)nfd);
	return child_cycle(config_path, (int)cfd, (int)sfd, deliver_only);
usage:
	fprintf(stderr, "erpulse-agent: %s is started by erpulse-agentd, not by hand\n", cmd);
	return AGENT_EXIT_USAGE;
}
