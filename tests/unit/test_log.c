/* lib/log.c: the stderr line format, level filtering, escaping of anything
 * that could forge a line, one line per call under threads, and the journal
 * choice (AUTO follows $JOURNAL_STREAM; without a journal socket the message
 * still reaches stderr). stderr is captured by dup2() onto a temp file. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "erpulse/log.h"
#include "erpulse/util.h"

#define JOURNAL_SOCKET "/run/systemd/journal/socket"

struct capture {
	char path[64];
	int fd;       /* the temp file, now our fd 2 */
	int saved_fd; /* the real stderr */
};

static void capture_start(struct capture *c)
{
	snprintf(c->path, sizeof(c->path), "/tmp/test_log.XXXXXX");
	c->fd = mkstemp(c->path);
	assert_true(c->fd >= 0);
	fflush(stderr);
	c->saved_fd = dup(STDERR_FILENO);
	assert_true(c->saved_fd >= 0);
	assert_int_equal(dup2(c->fd, STDERR_FILENO), STDERR_FILENO);
}

/* Restores stderr; returns what was written (caller frees). */
static char *capture_end(struct capture *c)
{
	struct stat st;
	char *data;
	ssize_t n;

	fflush(stderr);
	assert_int_equal(dup2(c->saved_fd, STDERR_FILENO), STDERR_FILENO);
	close(c->saved_fd);
	assert_int_equal(fstat(c->fd, &st), 0);
	data = malloc((size_t)st.st_size + 1);
	assert_non_null(data);
	n = pread(c->fd, data, (size_t)st.st_size, 0);
	assert_int_equal(n, st.st_size);
	data[n] = '\0';
	close(c->fd);
	unlink(c->path);
	return data;
}

static void test_format(void **state)
{
	(void)state;
	struct capture c;
	char *out;

	ep_log_init("erpulse-test", EP_LOG_DEBUG, EP_LOG_STDERR);
	capture_start(&c);
	ep_log(EP_LOG_WARNING, NULL, "disk %s is %d%% full", "/var", 93);
	ep_log(EP_LOG_ERR, "postgres.erp", "connection refused");
	ep_log_info("info line");
	ep_log_notice("notice line");
	ep_log_debug("debug %d", 7);
	ep_log_err("%s", "");
	out = capture_end(&c);
	assert_string_equal(out, "erpulse-test: warning: disk /var is 93% full\n"
				 "erpulse-test: err: [postgres.erp] connection refused\n"
				 "erpulse-test: info: info line\n"
				 "erpulse-test: notice: notice line\n"
				 "erpulse-test: debug: debug 7\n"
				 "erpulse-test: err: \n");
	free(out);
}

static void test_levels(void **state)
{
	(void)state;
	struct capture c;
	char *out;

	ep_log_init("lv", EP_LOG_INFO, EP_LOG_STDERR);
	capture_start(&c);
	ep_log_debug("dropped 1");
	ep_log_info("kept 1");
	ep_log_set_level(EP_LOG_DEBUG);
	ep_log_debug("kept 2");
	ep_log_set_level(EP_LOG_ERR);
	ep_log_warning("dropped 2");
	ep_log_notice("dropped 3");
	ep_log_err("kept 3");
	ep_log_init("lv", EP_LOG_WARNING, EP_LOG_STDERR); /* reload */
	ep_log_warning("kept 4");
	ep_log_notice("dropped 4");
	out = capture_end(&c);
	assert_string_equal(out, "lv: info: kept 1\nlv: debug: kept 2\nlv: err: kept 3\n"
				 "lv: warning: kept 4\n");
	free(out);
}

static void test_level_parse(void **state)
{
	(void)state;
	enum ep_log_level l = EP_LOG_INFO;

	assert_int_equal(ep_log_level_parse("err", &l), 0);
	assert_int_equal(l, EP_LOG_ERR);
	assert_int_equal(ep_log_level_parse("warning", &l), 0);
	assert_int_equal(l, EP_LOG_WARNING);
	assert_int_equal(ep_log_level_parse("notice", &l), 0);
	assert_int_equal(l, EP_LOG_NOTICE);
	assert_int_equal(ep_log_level_parse("info", &l), 0);
	assert_int_equal(l, EP_LOG_INFO);
	assert_int_equal(ep_log_level_parse("DEBUG", &l), 0);
	assert_int_equal(l, EP_LOG_DEBUG);
	assert_int_equal(ep_log_level_parse("error", &l), 0);
	assert_int_equal(l, EP_LOG_ERR);
	l = EP_LOG_NOTICE;
	assert_int_equal(ep_log_level_parse("verbose", &l), -EINVAL);
	assert_int_equal(ep_log_level_parse("", &l), -EINVAL);
	assert_int_equal(ep_log_level_parse("info ", &l), -EINVAL);
	assert_int_equal(ep_log_level_parse(NULL, &l), -EINVAL);
	assert_int_equal(l, EP_LOG_NOTICE);
}

static void test_escaping(void **state)
{
	(void)state;
	struct capture c;
	char *out;

	ep_log_init("esc", EP_LOG_DEBUG, EP_LOG_STDERR);
	capture_start(&c);
	/* a value read from a customer's log tries to forge a second line */
	ep_log_err("bad row: %s", "x\nesc: err: forged\r\x1b[31mred\x7f\tz");
	ep_log(EP_LOG_INFO, "log\nodoo", "probe names too");
	/* UTF-8 stays; invalid bytes, C1 controls and line separators do not */
	ep_log_info("Größe 東京 \xff\xfe \xc2\x9b"
		    "2J \xe2\x80\xa8 \xe2\x80\xa9 \xf0\x9f\x98\x80 "
		    "\xc0\xaf");
	out = capture_end(&c);
	assert_string_equal(
		out, "esc: err: bad row: x\\nesc: err: forged\\r\\x1b[31mred\\x7f\\tz\n"
		     "esc: info: [log\\nodoo] probe names too\n"
		     "esc: info: Größe 東京 \\xff\\xfe \\u009b2J \\u2028 \\u2029 \xf0\x9f\x98\x80 "
		     "\\xc0\\xaf\n");
	free(out);
}

static void test_ident_and_long(void **state)
{
	(void)state;
	struct capture c;
	char *out, *big;
	size_t lines = 0;

	ep_log_init("bad\nident: err: x", EP_LOG_INFO, EP_LOG_STDERR);
	big = malloc(20001);
	assert_non_null(big);
	memset(big, '\n', 20000);
	big[20000] = '\0';
	capture_start(&c);
	ep_log_info("short");
	ep_log_info("%s", big); /* 20000 newlines: truncated, escaped, one line */
	out = capture_end(&c);
	assert_true(strncmp(out, "bad_ident__err__x: info: short\nbad_ident__err__x: info: \\n\\n",
			    60) == 0);
	for (char *p = out; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, 2);
	assert_true(strlen(out) > 8000);
	assert_true(strlen(out) < 17000);
	assert_int_equal(out[strlen(out) - 1], '\n');
	free(out);
	free(big);
}

static void test_errno(void **state)
{
	(void)state;
	struct capture c;
	char *out;

	ep_log_init("en", EP_LOG_INFO, EP_LOG_STDERR);
	capture_start(&c);
	errno = ENOENT;
	ep_log_err("open '%s': %m", "/nope");
	assert_int_equal(errno, ENOENT); /* preserved for the caller */
	errno = EACCES;
	ep_log_debug("filtered");
	assert_int_equal(errno, EACCES);
	out = capture_end(&c);
	assert_string_equal(out, "en: err: open '/nope': No such file or directory\n");
	free(out);
}

#define THREADS    4
#define PER_THREAD 500

static void *log_thread(void *arg)
{
	int id = (int)(intptr_t)arg;

	for (int i = 0; i < PER_THREAD; i++)
		ep_log(EP_LOG_INFO, "t", "thread %d line %d %s", id, i,
		       "padding padding padding padding padding padding padding padding");
	return NULL;
}

static void test_threads(void **state)
{
	(void)state;
	pthread_t th[THREADS];
	struct capture c;
	char *out, *line, *nl;
	int count[THREADS] = {0};
	int total = 0;

	ep_log_init("th", EP_LOG_INFO, EP_LOG_STDERR);
	capture_start(&c);
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, log_thread, (void *)(intptr_t)i), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	out = capture_end(&c);
	/* every line whole: no interleaving inside a line */
	for (line = out; *line; line = nl + 1) {
		int id, n, consumed = 0;

		nl = strchr(line, '\n');
		assert_non_null(nl);
		*nl = '\0';

		assert_int_equal(sscanf(line, "th: info: [t] thread %d line %d padding%n", &id, &n,
					&consumed),
				 2);
		assert_true(consumed > 0);
		assert_true(id >= 0 && id < THREADS);
		assert_int_equal(n, count[id]); /* in order per thread */
		count[id]++;
		total++;
	}
	assert_int_equal(total, THREADS * PER_THREAD);
	free(out);
}

static volatile int stop_logging;

static void *busy_logger(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&stop_logging, __ATOMIC_RELAXED))
		ep_log(EP_LOG_INFO, NULL, "busy");
	return NULL;
}

/* A fork while another thread is mid-line: the child can still log. */
static void test_fork(void **state)
{
	(void)state;
	enum { FORKS = 50 };
	struct capture c;
	pthread_t th;
	char *out;
	int children = 0, hung = 0;

	ep_log_init("fk", EP_LOG_INFO, EP_LOG_STDERR);
	capture_start(&c);
	stop_logging = 0;
	assert_int_equal(pthread_create(&th, NULL, busy_logger, NULL), 0);
	for (int i = 0; i < FORKS; i++) {
		pid_t pid = fork();
		int status = 0;

		assert_true(pid >= 0);
		if (pid == 0) {
			ep_log(EP_LOG_INFO, "child", "child %d", i);
			_exit(0);
		}
		/* 10 s of wall clock: a loaded CI machine with sanitizers can be
		 * slow to run a child; a child stuck on an inherited lock never ends. */
		int64_t give_up = ep_mono_ms() + 10000;
		for (;;) {
			struct timespec ts = {0, 1000000};

			if (waitpid(pid, &status, WNOHANG) == pid)
				break;
			if (ep_mono_ms() > give_up) {
				kill(pid, SIGKILL);
				waitpid(pid, &status, 0);
				hung++;
				break;
			}
			nanosleep(&ts, NULL);
		}
		children += WIFEXITED(status) && WEXITSTATUS(status) == 0;
		if (hung)
			break; /* a child stuck on the inherited lock: that is the bug */
	}
	__atomic_store_n(&stop_logging, 1, __ATOMIC_RELAXED);
	pthread_join(th, NULL);
	out = capture_end(&c);
	assert_int_equal(hung, 0);
	assert_int_equal(children, FORKS);
	for (int i = 0; i < FORKS; i++) {
		char want[64];

		snprintf(want, sizeof(want), "fk: info: [child] child %d\n", i);
		assert_non_null(strstr(out, want));
	}
	free(out);
}

static bool have_journal(void)
{
	return access(JOURNAL_SOCKET, F_OK) == 0;
}

static void test_auto_target(void **state)
{
	(void)state;
	struct capture c;
	struct stat st;
	char env[64], *out;

	/* no JOURNAL_STREAM: stderr */
	unsetenv("JOURNAL_STREAM");
	capture_start(&c);
	ep_log_init("au", EP_LOG_INFO, EP_LOG_AUTO);
	ep_log_info("plain");
	/* JOURNAL_STREAM of another stream (inherited by a redirected child): stderr */
	setenv("JOURNAL_STREAM", "1:2", 1);
	ep_log_init("au", EP_LOG_INFO, EP_LOG_AUTO);
	ep_log_info("other stream");
	setenv("JOURNAL_STREAM", "garbage", 1);
	ep_log_init("au", EP_LOG_INFO, EP_LOG_AUTO);
	ep_log_info("garbage env");
	/* JOURNAL_STREAM naming our stderr: the journal; with no journal socket
	 * (this container) the message falls back to stderr instead of vanishing */
	assert_int_equal(fstat(STDERR_FILENO, &st), 0);
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", env, 1);
	ep_log_init("au", EP_LOG_INFO, EP_LOG_AUTO);
	ep_log(EP_LOG_WARNING, "disk", "journal %s", "or fallback");
	out = capture_end(&c);
	unsetenv("JOURNAL_STREAM");
	if (have_journal()) {
		/* sent to the journal: stderr saw only the first three */
		assert_string_equal(out, "au: info: plain\nau: info: other stream\n"
					 "au: info: garbage env\n");
	} else {
		assert_string_equal(out, "au: info: plain\nau: info: other stream\n"
					 "au: info: garbage env\n"
					 "au: warning: [disk] journal or fallback\n");
	}
	free(out);
}

static void test_forced_journal(void **state)
{
	(void)state;
	struct capture c;
	char *out;

	capture_start(&c);
	ep_log_init("fj", EP_LOG_INFO, EP_LOG_JOURNAL);
	ep_log_err("to the journal \n%s", "x");
	out = capture_end(&c);
	if (have_journal()) {
		assert_string_equal(out, "");
	} else {
		print_message("# no %s here: checking the stderr fallback\n", JOURNAL_SOCKET);
		assert_string_equal(out, "fj: err: to the journal \\nx\n");
	}
	free(out);
	ep_log_init("fj", EP_LOG_INFO, EP_LOG_STDERR);
}

/* Receives one datagram from the journal socket (2 s at most). */
static bool journal_recv(int fd, char *buf, size_t size)
{
	ssize_t n = recv(fd, buf, size - 1, 0);

	if (n <= 0)
		return false;
	buf[n] = '\0';
	return true;
}

/* The journal's native protocol for values without newlines is
 * "FIELD=value\n" per field: true when line is one of them. */
static bool has_field(const char *dgram, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = dgram; *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);

		if (len == n && memcmp(p, line, n) == 0)
			return true;
		if (!nl)
			break;
		p = nl + 1;
	}
	return false;
}

/* The journal path for real: without a journal in this container, the test
 * (as root) binds a datagram socket where journald's would be, which is all
 * sd_journal_send() talks to, and reads the fields the logger sent. On a
 * host with a journal it skips rather than write into the real one. */
static bool made_systemd, made_journal, made_socket;
static int journal_fd = -1;

/* Runs even when an assertion failed: a socket left behind would look like
 * a journal to every later run. */
static int journal_teardown(void **state)
{
	(void)state;
	if (journal_fd >= 0)
		close(journal_fd);
	journal_fd = -1;
	if (made_socket)
		unlink(JOURNAL_SOCKET);
	if (made_journal)
		rmdir("/run/systemd/journal");
	if (made_systemd)
		rmdir("/run/systemd");
	made_socket = made_journal = made_systemd = false;
	unsetenv("JOURNAL_STREAM");
	ep_log_init("jt", EP_LOG_INFO, EP_LOG_STDERR);
	return 0;
}

static void test_journal_fields(void **state)
{
	(void)state;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = 2};
	struct capture c;
	struct stat st;
	char buf[4096], env[64], *out;
	int fd;

	if (have_journal() || geteuid() != 0) {
		print_message("# journal socket present or not root: skipping the fields test\n");
		skip();
	}
	if (mkdir("/run/systemd", 0755) == 0)
		made_systemd = true;
	if (mkdir("/run/systemd/journal", 0755) == 0)
		made_journal = true;
	fd = journal_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", JOURNAL_SOCKET);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	made_socket = true;
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);

	capture_start(&c);
	ep_log_init("jt", EP_LOG_INFO, EP_LOG_JOURNAL);
	ep_log(EP_LOG_WARNING, "postgres.erp", "bloat %d%%\nforged", 42);
	ep_log_debug("filtered");
	ep_log_info("no probe");
	/* AUTO: stderr is "the journal" when JOURNAL_STREAM names it */
	assert_int_equal(fstat(STDERR_FILENO, &st), 0);
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", env, 1);
	ep_log_init("jt", EP_LOG_INFO, EP_LOG_AUTO);
	ep_log_err("auto");
	unsetenv("JOURNAL_STREAM");
	out = capture_end(&c);
	ep_log_init("jt", EP_LOG_INFO, EP_LOG_STDERR);

	assert_true(journal_recv(fd, buf, sizeof(buf)));
	assert_true(has_field(buf, "MESSAGE=bloat 42%\\nforged"));
	assert_true(has_field(buf, "PRIORITY=4"));
	assert_true(has_field(buf, "SYSLOG_IDENTIFIER=jt"));
	assert_true(has_field(buf, "ERPULSE_PROBE=postgres.erp"));
	assert_true(journal_recv(fd, buf, sizeof(buf)));
	assert_true(has_field(buf, "MESSAGE=no probe"));
	assert_true(has_field(buf, "PRIORITY=6"));
	assert_null(strstr(buf, "ERPULSE_PROBE="));
	assert_true(journal_recv(fd, buf, sizeof(buf)));
	assert_true(has_field(buf, "MESSAGE=auto"));
	assert_true(has_field(buf, "PRIORITY=3"));
	/* nothing else: the debug line was filtered, stderr stayed empty */
	assert_int_equal(recv(fd, buf, sizeof(buf), MSG_DONTWAIT), -1);
	assert_string_equal(out, "");
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_levels),
		cmocka_unit_test(test_level_parse),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_ident_and_long),
		cmocka_unit_test(test_errno),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_fork),
		cmocka_unit_test(test_auto_target),
		cmocka_unit_test(test_forced_journal),
		cmocka_unit_test_teardown(test_journal_fields, journal_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
