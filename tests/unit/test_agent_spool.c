/* agent/spool.c: durable files, streaming oldest-first scan, corruption
 * detection, bounds (size, age) with drop counting, quarantine. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent.h"

static const char SIG[] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
			  "AAAAAAAAAAAAAAAAAAAAAAAAAA==";

struct fx {
	char dir[256];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	/* tmpfs when there is one: thousands of file creations stay fast */
	snprintf(f->dir, sizeof(f->dir), "%s/ep-spool-XXXXXX",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	if (!mkdtemp(f->dir))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[512];
	pid_t pid;

	snprintf(cmd, sizeof(cmd), "%s", f->dir);
	pid = fork();
	if (pid == 0) {
		execlp("rm", "rm", "-rf", cmd, (char *)NULL);
		_exit(127);
	}
	waitpid(pid, NULL, 0);
	free(f);
	return 0;
}

static void write_report(const char *dir, int64_t seq, int64_t dropped, size_t pad)
{
	char *body = malloc(pad + 256);
	int n;

	assert_non_null(body);
	n = snprintf(body, pad + 256, "{\"dropped_reports\":%lld,\"pad\":\"%*s\",\"seq\":%lld}",
		     (long long)dropped, (int)pad, "", (long long)seq);
	assert_int_equal(agent_spool_write(dir, seq, SIG, body, (size_t)n), 0);
	free(body);
}

static void test_roundtrip(void **state)
{
	struct fx *f = *state;
	char path[512], sig[EP_SIGNATURE_B64_SIZE];
	char *body = NULL;
	size_t len = 0;
	struct stat st;

	assert_int_equal(agent_spool_write(f->dir, 42, SIG, "{\"a\":1}", 7), 0);
	agent_spool_path(f->dir, 42, path, sizeof(path));
	assert_string_equal(strrchr(path, '/') + 1, "00000000000000000042.report");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(agent_spool_read(path, sig, &body, &len), 0);
	assert_string_equal(sig, SIG);
	assert_int_equal(len, 7);
	assert_memory_equal(body, "{\"a\":1}", 7);
	free(body);
}

static void put(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void test_corrupt(void **state)
{
	struct fx *f = *state;
	char path[512], sig[EP_SIGNATURE_B64_SIZE], good[512];
	char *body = NULL, *data = NULL;
	size_t len = 0, dlen = 0;
	static const char *const bad[] = {
		"",
		"garbage",
		"ERPULSE-SPOOL-1 short 2\n{}",
		"ERPULSE-SPOOL-1 "
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		"AAAAAAAAAAAAAAAAAAAAAAAAAA== x\n{}",
	};

	snprintf(path, sizeof(path), "%s/00000000000000000001.report", f->dir);
	for (size_t i = 0; i < EP_ARRAY_SIZE(bad); i++) {
		put(path, bad[i], strlen(bad[i]));
		assert_int_equal(agent_spool_read(path, sig, &body, &len), -EBADMSG);
	}
	/* truncated and with trailing bytes */
	write_report(f->dir, 2, 0, 10);
	agent_spool_path(f->dir, 2, good, sizeof(good));
	assert_int_equal(ep_read_file(good, 1 << 20, &data, &dlen), 0);
	put(path, data, dlen - 1);
	assert_int_equal(agent_spool_read(path, sig, &body, &len), -EBADMSG);
	put(path, data, dlen);
	assert_int_equal(agent_spool_read(path, sig, &body, &len), 0);
	free(body);
	data = realloc(data, dlen + 1);
	data[dlen] = 'x';
	put(path, data, dlen + 1);
	assert_int_equal(agent_spool_read(path, sig, &body, &len), -EBADMSG);
	free(data);
	assert_int_equal(agent_spool_read("/nonexistent/x.report", sig, &body, &len), -ENOENT);
}

static void test_oldest_order(void **state)
{
	struct fx *f = *state;
	int64_t seqs[3], all[10];
	size_t n;
	static const int64_t order[] = {5, 3, 9, 1, 7};

	assert_int_equal(agent_spool_oldest(f->dir, seqs, 3, &n), 0);
	assert_int_equal(n, 0);
	for (size_t i = 0; i < EP_ARRAY_SIZE(order); i++)
		write_report(f->dir, order[i], 0, 1);
	/* noise the scan must ignore */
	char p[512];
	snprintf(p, sizeof(p), "%s/notes.txt", f->dir);
	put(p, "x", 1);
	snprintf(p, sizeof(p), "%s/12.report", f->dir);
	put(p, "x", 1);
	assert_int_equal(agent_spool_oldest(f->dir, seqs, 3, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(seqs[0], 1);
	assert_int_equal(seqs[1], 3);
	assert_int_equal(seqs[2], 5);
	assert_int_equal(agent_spool_oldest(f->dir, all, 10, &n), 0);
	assert_int_equal(n, 5);
	for (size_t i = 1; i < n; i++)
		assert_true(all[i - 1] < all[i]);
	/* missing directory: an empty spool */
	snprintf(p, sizeof(p), "%s/none", f->dir);
	assert_int_equal(agent_spool_oldest(p, seqs, 3, &n), 0);
	assert_int_equal(n, 0);
}

/* 20000 files in random order: the scan keeps only a small window. */
static void test_oldest_many(void **state)
{
	struct fx *f = *state;
	enum { N = 20000 };
	int64_t *perm = malloc(N * sizeof(*perm)), seqs[64];
	size_t n;
	struct agent_spool_stats s;

	assert_non_null(perm);
	for (int64_t i = 0; i < N; i++)
		perm[i] = i + 1;
	srand(7);
	for (size_t i = N - 1; i > 0; i--) {
		size_t j = (size_t)rand() % (i + 1);
		int64_t t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
	}
	for (size_t i = 0; i < N; i++) {
		char p[512];
		agent_spool_path(f->dir, perm[i] + 100, p, sizeof(p));
		put(p, "x", 1);
	}
	free(perm);
	assert_int_equal(agent_spool_oldest(f->dir, seqs, 64, &n), 0);
	assert_int_equal(n, 64);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(seqs[i], 101 + (int64_t)i);
	assert_int_equal(agent_spool_stats(f->dir, &s), 0);
	assert_int_equal(s.count, N);
	assert_int_equal(s.bytes, N);
	assert_int_equal(s.oldest_seq, 101);
}

static void test_stale_temp(void **state)
{
	struct fx *f = *state;
	char stale[512], fresh[512];
	struct timespec old[2] = {{.tv_sec = time(NULL) - 3600}, {.tv_sec = time(NULL) - 3600}};
	int64_t seqs[4];
	size_t n;

	snprintf(stale, sizeof(stale), "%s/.00000000000000000003.report.tmp-0123456789abcdef",
		 f->dir);
	snprintf(fresh, sizeof(fresh), "%s/.00000000000000000004.report.tmp-0123456789abcdef",
		 f->dir);
	put(stale, "half", 4);
	put(fresh, "half", 4);
	assert_int_equal(utimensat(AT_FDCWD, stale, old, 0), 0);
	assert_int_equal(agent_spool_oldest(f->dir, seqs, 4, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(access(stale, F_OK), -1);
	assert_int_equal(access(fresh, F_OK), 0); /* may belong to a write in progress */
}

static void test_enforce_size(void **state)
{
	struct fx *f = *state;
	struct agent_spool_stats s;
	int64_t dropped = -1, seqs[16];
	size_t n;

	for (int64_t seq = 1; seq <= 10; seq++)
		write_report(f->dir, seq, seq == 2 ? 5 : 0, 1000);
	assert_int_equal(agent_spool_stats(f->dir, &s), 0);
	assert_int_equal(s.count, 10);
	/* room for 7: 1, 2 and 3 go; 2 was announcing 5 earlier drops, which the
	 * state still counts (dropped_reports is cumulative): 3 more */
	int64_t first3 = 0;
	for (int64_t seq = 1; seq <= 3; seq++) {
		char p[512];
		struct stat st;
		agent_spool_path(f->dir, seq, p, sizeof(p));
		assert_int_equal(stat(p, &st), 0);
		first3 += st.st_size;
	}
	assert_int_equal(agent_spool_enforce(f->dir, s.bytes - first3, 0, time(NULL), &dropped), 0);
	assert_int_equal(dropped, 3);
	assert_int_equal(agent_spool_oldest(f->dir, seqs, 16, &n), 0);
	assert_int_equal(n, 7);
	assert_int_equal(seqs[0], 4);
	/* within bounds: nothing dropped */
	assert_int_equal(agent_spool_enforce(f->dir, 1 << 30, 0, time(NULL), &dropped), 0);
	assert_int_equal(dropped, 0);
}

static void test_enforce_age(void **state)
{
	struct fx *f = *state;
	int64_t dropped = -1, seqs[8];
	size_t n;
	char p[512];
	struct timespec old[2] = {{.tv_sec = time(NULL) - 1000}, {.tv_sec = time(NULL) - 1000}};

	for (int64_t seq = 1; seq <= 4; seq++) {
		write_report(f->dir, seq, 0, 10);
		if (seq <= 2) {
			agent_spool_path(f->dir, seq, p, sizeof(p));
			assert_int_equal(utimensat(AT_FDCWD, p, old, 0), 0);
		}
	}
	assert_int_equal(agent_spool_enforce(f->dir, 1 << 30, 0, time(NULL), &dropped), 0);
	assert_int_equal(dropped, 0); /* no age limit */
	assert_int_equal(agent_spool_enforce(f->dir, 1 << 30, 500, time(NULL), &dropped), 0);
	assert_int_equal(dropped, 2);
	assert_int_equal(agent_spool_oldest(f->dir, seqs, 8, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(seqs[0], 3);
}

static void test_quarantine(void **state)
{
	struct fx *f = *state;
	char p[512], q[512];
	int64_t seqs[2];
	size_t n;

	write_report(f->dir, 8, 0, 1);
	agent_spool_path(f->dir, 8, p, sizeof(p));
	assert_int_equal(agent_spool_quarantine(f->dir, p), 0);
	snprintf(q, sizeof(q), "%s/quarantine/00000000000000000008.report", f->dir);
	assert_int_equal(access(q, F_OK), 0);
	assert_int_equal(access(p, F_OK), -1);
	assert_int_equal(agent_spool_oldest(f->dir, seqs, 2, &n), 0);
	assert_int_equal(n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oldest_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oldest_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_temp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enforce_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enforce_age, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quarantine, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
