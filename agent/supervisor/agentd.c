/* erpulse-agentd: the resident part of the agent daemon. It links libc
 * only, so the process that lives for months maps no libcurl, OpenSSL,
 * libpq, unixODBC, PCRE2 or libsodium: those live in the cycle process
 * (erpulse-agent _cycle) it starts every interval, which probes, signs,
 * spools and delivers, then exits. This process keeps the schedule (jitter,
 * delivery backoff times the cycle process hands back), speaks sd_notify
 * (READY=1, STATUS=, WATCHDOG=1, RELOADING=1, STOPPING=1) itself, forwards
 * SIGTERM to a running cycle and kills one that outlives its cap, and has a
 * SIGHUP validated by a child before the new configuration is used.
 * erpulse-agent run starts it (exec, same PID) after the privilege switch
 * and with the state lock held; protocol.h describes the seam. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/supervisor/protocol.h"

enum { LOG_ERR_ = 3, LOG_WARNING_ = 4, LOG_NOTICE_ = 5 };

static volatile sig_atomic_t g_stop, g_hup;
static int g_wake[2] = {-1, -1};
static bool g_journal; /* stderr is the journal: "<N>" priority prefixes */
static char g_notify[sizeof(((struct sockaddr_un *)0)->sun_path)];
static size_t g_notify_len;

static void on_signal(int sig)
{
	int saved = errno;

	if (sig == SIGHUP)
		g_hup = 1;
	else if (sig != SIGCHLD)
		g_stop = 1;
	if (g_wake[1] >= 0)
		(void)!write(g_wake[1], "x", 1);
	errno = saved;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Same line format as the full binary's stderr log ("ident: level: msg"). */
__attribute__((format(printf, 2, 3))) static void say(int prio, const char *fmt, ...)
{
	static const char *const names[] = {"", "", "", "err", "warning", "notice"};
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (g_journal)
		dprintf(STDERR_FILENO, "<%d>erpulse-agent: %s: %s\n", prio, names[prio], msg);
	else
		dprintf(STDERR_FILENO, "erpulse-agent: %s: %s\n", names[prio], msg);
}

/* sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET. */
static void notify(const char *msg)
{
	struct sockaddr_un sa;
	int fd;

	if (!g_notify_len)
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, g_notify, g_notify_len);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0'; /* abstract namespace */
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	(void)!sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (const struct sockaddr *)&sa,
		      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + g_notify_len));
	close(fd);
}

static int64_t rand_upto(int64_t max)
{
	uint64_t r;

	if (max <= 0)
		return 0;
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		r = (uint64_t)mono_ms() * 2654435761u ^ (uint64_t)getpid();
	return (int64_t)(r % (uint64_t)(max + 1));
}

static bool parse_i64(const char *s, int64_t min, int64_t max, int64_t *ret)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return false;
	*ret = v;
	return true;
}

struct child {
	pid_t pid;
	const char *what; /* "cycle", "delivery", "reload" */
	int out;          /* read end of the status pipe, -1 at EOF */
	int newfd;        /* _reload: the memfd the new configuration goes to */
	int64_t cap_s, deadline, term_at;
	bool killed;
	char buf[8192];
	size_t len;
};

struct sup {
	const char *agent, *config;
	int config_fd;
	int64_t interval_s, jitter_s, cap_s;
	uint64_t wd_usec;
	int64_t last_wd;
	char status[1100]; /* the last STATUS= line */
	struct child c;
};

static void feed_watchdog(struct sup *s)
{
	int64_t now = mono_ms();

	if (s->wd_usec && now - s->last_wd >= (int64_t)(s->wd_usec / 4000)) {
		notify("WATCHDOG=1");
		s->last_wd = now;
	}
}

static int64_t next_cycle_ms(const struct sup *s, int64_t from)
{
	int64_t ms = s->interval_s * 1000 + rand_upto(s->jitter_s * 1000) - s->jitter_s * 500;

	return from + (ms < 1000 ? 1000 : ms);
}

static void keep_fd(int fd)
{
	if (fd >= 0)
		fcntl(fd, F_SETFD, 0);
}

static int spawn(struct sup *s, const char *cmd, const char *what, bool deliver_only, int newfd)
{
	struct child *c = &s->c;
	char cfd[16], sfd[16], nfd[16];
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0) {
		say(LOG_ERR_, "cannot start the %s process: pipe: %s", what, strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		say(LOG_ERR_, "cannot start the %s process: fork: %s", what, strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		const char *argv[16];
		int n = 0;
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		keep_fd(s->config_fd);
		keep_fd(p[1]);
		keep_fd(newfd);
		snprintf(cfd, sizeof(cfd), "%d", s->config_fd);
		snprintf(sfd, sizeof(sfd), "%d", p[1]);
		snprintf(nfd, sizeof(nfd), "%d", newfd);
		argv[n++] = s->agent;
		argv[n++] = "--config";
		argv[n++] = s->config;
		argv[n++] = cmd;
		argv[n++] = "--config-fd";
		argv[n++] = cfd;
		argv[n++] = "--status-fd";
		argv[n++] = sfd;
		if (deliver_only)
			argv[n++] = "--deliver-only";
		if (newfd >= 0) {
			argv[n++] = "--new-fd";
			argv[n++] = nfd;
		}
		argv[n] = NULL;
		execv(s->agent, (char *const *)(uintptr_t)argv);
		say(LOG_ERR_, "cannot run '%s': %s", s->agent, strerror(errno));
		_exit(127);
	}
	close(p[1]);
	/* never block on it: a probe worker forked by the child holds the write
	 * end too until it is gone */
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	memset(c, 0, sizeof(*c));
	c->pid = pid;
	c->what = what;
	c->out = p[0];
	c->newfd = newfd;
	c->cap_s = strcmp(cmd, AGENTD_CMD_RELOAD) == 0 ? AGENTD_RELOAD_CAP_S : s->cap_s;
	c->deadline = mono_ms() + c->cap_s * 1000;
	return 0;
}

static void read_child(struct child *c)
{
	char tmp[4096];
	ssize_t n;

	while (c->out >= 0) {
		n = read(c->out, tmp, sizeof(tmp));
		if (n > 0) {
			size_t k = (size_t)n;

			/* more than the protocol ever says: the rest is dropped */
			if (k > sizeof(c->buf) - 1 - c->len)
				k = sizeof(c->buf) - 1 - c->len;
			memcpy(c->buf + c->len, tmp, k);
			c->len += k;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		close(c->out); /* EOF (or an error): nothing more will come */
		c->out = -1;
	}
}

/* The child has exited: act on what it said. */
static void finish_child(struct sup *s, int ws, int64_t *next_delivery)
{
	struct child *c = &s->c;
	bool conf_ok = false;
	char *line, *save = NULL;

	read_child(c);
	c->buf[c->len] = '\0';
	for (line = strtok_r(c->buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		int64_t v;

		if (strncmp(line, "STATUS=", 7) == 0) {
			snprintf(s->status, sizeof(s->status), "%s", line);
			notify(s->status);
		} else if (strncmp(line, "NEXT=", 5) == 0 &&
			   parse_i64(line + 5, -1, INT64_C(86400000) * 7, &v)) {
			*next_delivery = v < 0 ? 0 : mono_ms() + v;
		} else if (strncmp(line, "CONF ", 5) == 0 && c->newfd >= 0) {
			char *f[3], *sp = NULL;
			int64_t iv, jv, cv;

			f[0] = strtok_r(line + 5, " ", &sp);
			f[1] = strtok_r(NULL, " ", &sp);
			f[2] = strtok_r(NULL, " ", &sp);
			if (f[0] && f[1] && f[2] && parse_i64(f[0], 1, INT32_MAX, &iv) &&
			    parse_i64(f[1], 0, INT32_MAX, &jv) &&
			    parse_i64(f[2], 1, INT32_MAX, &cv) && WIFEXITED(ws) &&
			    WEXITSTATUS(ws) == 0) {
				s->interval_s = iv;
				s->jitter_s = jv;
				s->cap_s = cv;
				conf_ok = true;
			}
		}
	}
	if (c->newfd >= 0) { /* a reload: the validated copy replaces the running one */
		if (conf_ok) {
			close(s->config_fd);
			s->config_fd = c->newfd;
		} else {
			close(c->newfd);
		}
		notify("READY=1");
		if (s->status[0])
			notify(s->status);
	}
	if (WIFSIGNALED(ws) && !g_stop)
		say(LOG_ERR_, "the %s process was killed by signal %d%s", c->what, WTERMSIG(ws),
		    c->killed ? " (it outlived its time cap)" : "");
	else if (WIFEXITED(ws) && WEXITSTATUS(ws) == 127)
		say(LOG_ERR_, "the %s process could not start (see above)", c->what);
	if (c->out >= 0)
		close(c->out);
	c->pid = 0;
}

/* Waits for a signal, the child's output or until_ms, feeding the watchdog. */
static void wait_some(struct sup *s, int64_t until_ms)
{
	struct pollfd p[2] = {{.fd = g_wake[0], .events = POLLIN}, {.fd = -1, .events = POLLIN}};
	int64_t wait = until_ms - mono_ms();
	char buf[64];

	if (s->c.pid && s->c.out >= 0)
		p[1].fd = s->c.out;
	if (s->wd_usec && wait > (int64_t)(s->wd_usec / 4000))
		wait = (int64_t)(s->wd_usec / 4000);
	if (wait > 60000)
		wait = 60000;
	if (wait < 1)
		wait = 1;
	if (poll(p, 2, (int)wait) > 0) {
		if (p[0].revents)
			while (read(g_wake[0], buf, sizeof(buf)) > 0)
				;
		if (p[1].revents)
			read_child(&s->c);
	}
	feed_watchdog(s);
}

static int setup_signals(void)
{
	struct sigaction sa;
	sigset_t none;

	if (pipe2(g_wake, O_CLOEXEC | O_NONBLOCK) < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_flags = SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* erpulse-agent run blocked them before the exec: what came in between
	 * is delivered now */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	return 0;
}

/* $NOTIFY_SOCKET and the watchdog are this process's: the children never
 * see them (systemd would ignore their messages: NotifyAccess=main). */
static void take_notify_env(struct sup *s)
{
	const char *e = getenv("NOTIFY_SOCKET"), *pid = getenv("WATCHDOG_PID");
	const char *usec = getenv("WATCHDOG_USEC"), *js = getenv("JOURNAL_STREAM");
	int64_t v;

	if (e && (e[0] == '/' || e[0] == '@') && strlen(e) < sizeof(g_notify)) {
		g_notify_len = strlen(e);
		memcpy(g_notify, e, g_notify_len);
	}
	if (usec && parse_i64(usec, 1, INT64_MAX, &v)) {
		int64_t p;

		if (!pid || (parse_i64(pid, 1, INT32_MAX, &p) && p == getpid()))
			s->wd_usec = (uint64_t)v;
	}
	g_journal = js && *js; /* the full binary checks the inode; the prefix is harmless */
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}

static int usage(void)
{
	fprintf(stderr, "erpulse-agentd is started by `erpulse-agent run`, not by hand\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct sup s;
	const char *status = NULL;
	bool deliver_now = false;
	int64_t lock_fd = -1, cfd = -1, next_cycle, next_delivery = 0;

	memset(&s, 0, sizeof(s));
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		bool ok = v != NULL;

		if (strcmp(o, "--deliver-now") == 0) {
			deliver_now = true;
			continue;
		}
		if (!ok)
			return usage();
		if (strcmp(o, "--agent") == 0)
			s.agent = v;
		else if (strcmp(o, "--config") == 0)
			s.config = v;
		else if (strcmp(o, "--status") == 0)
			status = v;
		else if (strcmp(o, "--config-fd") == 0)
			ok = parse_i64(v, 3, 65535, &cfd);
		else if (strcmp(o, "--lock-fd") == 0)
			ok = parse_i64(v, 3, 65535, &lock_fd);
		else if (strcmp(o, "--interval") == 0)
			ok = parse_i64(v, 1, INT32_MAX, &s.interval_s);
		else if (strcmp(o, "--jitter") == 0)
			ok = parse_i64(v, 0, INT32_MAX, &s.jitter_s);
		else if (strcmp(o, "--cap") == 0)
			ok = parse_i64(v, 1, INT32_MAX, &s.cap_s);
		else
			ok = false;
		if (!ok)
			return usage();
		i++;
	}
	if (!s.agent || !s.config || cfd < 0 || lock_fd < 0 || !s.interval_s || !s.cap_s ||
	    fcntl((int)cfd, F_GETFD) < 0 || fcntl((int)lock_fd, F_GETFD) < 0)
		return usage();
	s.config_fd = (int)cfd;
	/* the state lock stays with this process; the children work under it */
	fcntl((int)lock_fd, F_SETFD, FD_CLOEXEC);
	fcntl(s.config_fd, F_SETFD, FD_CLOEXEC);
	take_notify_env(&s);
	if (setup_signals() < 0) {
		say(LOG_ERR_, "cannot set up signal handling: %s", strerror(errno));
		return 1;
	}
	notify("READY=1");
	if (status) {
		snprintf(s.status, sizeof(s.status), "STATUS=%s", status);
		notify(s.status);
	}
	if (s.wd_usec) {
		notify("WATCHDOG=1");
		s.last_wd = mono_ms();
	}
	/* the first cycle is spread over the jitter too: a fleet rebooted together
	 * does not push together; what an earlier run left in the spool goes out
	 * now unless that first cycle (which delivers too) is about to start */
	next_cycle = mono_ms() + rand_upto(s.jitter_s * 1000);
	if (deliver_now && next_cycle - mono_ms() > 5000)
		next_delivery = mono_ms();

	for (;;) {
		int64_t now = mono_ms();

		if (s.c.pid) {
			struct child *c = &s.c;
			int ws;
			pid_t r;

			if (g_stop && !c->term_at) {
				kill(c->pid, SIGTERM);
				c->term_at = now + AGENTD_TERM_GRACE_MS;
			}
			if (!c->killed &&
			    ((c->term_at && now >= c->term_at) || now >= c->deadline)) {
				if (!g_stop)
					say(LOG_ERR_,
					    "the %s process (pid %d) outlived its %lld s cap: "
					    "killing it",
					    c->what, (int)c->pid, (long long)c->cap_s);
				kill(c->pid, SIGKILL);
				c->killed = true;
			}
			r = waitpid(c->pid, &ws, WNOHANG);
			if (r == c->pid || (r < 0 && errno == ECHILD)) {
				if (r < 0)
					ws = 0;
				finish_child(&s, ws, &next_delivery);
				continue;
			}
			wait_some(&s,
				  c->killed ? now + 100 : (c->term_at ? c->term_at : c->deadline));
			continue;
		}
		if (g_stop)
			break;
		if (g_hup) {
			int nfd;

			g_hup = 0;
			notify("RELOADING=1");
			nfd = memfd_create("erpulse-agent.conf", MFD_CLOEXEC);
			if (nfd < 0) {
				say(LOG_ERR_,
				    "reload: cannot create a memfd: %s; keeping the running "
				    "configuration",
				    strerror(errno));
				notify("READY=1");
			} else if (spawn(&s, AGENTD_CMD_RELOAD, "reload", false, nfd) < 0) {
				close(nfd);
				notify("READY=1");
			}
			continue;
		}
		if (now >= next_cycle) {
			next_cycle = next_cycle_ms(&s, now);
			spawn(&s, AGENTD_CMD_CYCLE, "cycle", false, -1);
			continue;
		}
		if (next_delivery && now >= next_delivery) {
			next_delivery = 0;
			spawn(&s, AGENTD_CMD_CYCLE, "delivery", true, -1);
			continue;
		}
		wait_some(&s,
			  next_delivery && next_delivery < next_cycle ? next_delivery : next_cycle);
	}
	notify("STOPPING=1");
	say(LOG_NOTICE_, "stopping");
	return 0;
}
