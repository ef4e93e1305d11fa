/* lib/util.c against the real clock, real files in a temp dir and real
 * resource limits (RLIMIT_FSIZE makes write(2) fail mid-file). */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "erpulse/util.h"

static char tmpdir[256];

static int setup(void **state)
{
	const char *base = getenv("TMPDIR");

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "%s/test_util.XXXXXX", base && *base ? base : "/tmp");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static void rm_rf(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *e;

	if (lstat(path, &st) != 0)
		return;
	if (!S_ISDIR(st.st_mode)) {
		unlink(path);
		return;
	}
	d = opendir(path);
	if (d) {
		while ((e = readdir(d)) != NULL) {
			char sub[PATH_MAX];
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
			rm_rf(sub);
		}
		closedir(d);
	}
	rmdir(path);
}

static int teardown(void **state)
{
	(void)state;
	rm_rf(tmpdir);
	return 0;
}

/* a fresh empty directory below tmpdir for one test */
static void subdir(const char *name, char *out, size_t size)
{
	snprintf(out, size, "%s/%s", tmpdir, name);
	rm_rf(out);
	assert_int_equal(mkdir(out, 0700), 0);
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* ---- clocks ---- */

static void test_clocks(void **state)
{
	int64_t a, b, wall;

	(void)state;
	a = ep_mono_ms();
	sleep_ms(20);
	b = ep_mono_ms();
	assert_true(b - a >= 20);
	assert_true(b - a < 2000);
	wall = ep_wall_ms();
	/* within a second of time(2) */
	assert_true(llabs(wall / 1000 - (int64_t)time(NULL)) <= 1);
}

static void test_deadlines(void **state)
{
	struct ep_deadline d;
	int64_t left;

	(void)state;
	d = ep_deadline_in(0);
	assert_true(ep_deadline_expired(&d));
	assert_int_equal(ep_deadline_left_ms(&d), 0);
	d = ep_deadline_in(-5);
	assert_true(ep_deadline_expired(&d));

	d = ep_deadline_in(10000);
	left = ep_deadline_left_ms(&d);
	assert_false(ep_deadline_expired(&d));
	assert_true(left > 9000 && left <= 10000);

	d = ep_deadline_in(30);
	assert_false(ep_deadline_expired(&d));
	sleep_ms(40);
	assert_true(ep_deadline_expired(&d));
	assert_int_equal(ep_deadline_left_ms(&d), 0);

	d = ep_deadline_in(INT64_MAX);
	assert_true(d.at_ms == INT64_MAX);
	assert_true(ep_deadline_left_ms(&d) == INT64_MAX);
	assert_false(ep_deadline_expired(&d));
	d = ep_deadline_in(INT64_MAX - 1); /* overflow saturates to never */
	assert_true(d.at_ms == INT64_MAX);
}

/* ---- RFC 3339 ---- */

static void test_time_format(void **state)
{
	char buf[32];

	(void)state;
	assert_int_equal(ep_time_format(0, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "1970-01-01T00:00:00Z");
	assert_int_equal(ep_time_format(1795729322, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "2026-11-26T21:42:02Z");
	assert_int_equal(ep_time_format(1795729322, buf, 21), 0); /* the documented minimum */
	assert_int_equal(ep_time_format(1795729322, buf, 20), -ENOSPC);
	assert_string_equal(buf, "");
	assert_int_equal(ep_time_format(1795729322, buf, 0), -ENOSPC);
}

static void test_time_parse_good(void **state)
{
	static const struct {
		const char *s;
		time_t t;
	} cases[] = {
		{"2026-11-26T21:42:02Z", 1795729322},
		{"2026-11-26t21:42:02z", 1795729322},
		{"2026-11-26T21:42:02.123456789Z", 1795729322},
		{"2026-11-26T21:42:02.5+00:00", 1795729322},
		{"2026-11-26T23:42:02+02:00", 1795729322},
		{"2026-11-26T16:12:02-05:30", 1795729322},
		{"2026-11-27T00:42:02-00:00", 1795729322 + 3 * 3600},
		{"1970-01-01T00:00:00Z", 0},
		{"2024-02-29T12:00:00Z", 1709208000},
		{"2000-02-29T00:00:00Z", 951782400},
		{"2024-02-29T23:59:60Z", 1709251200}, /* leap second -> next second */
		{"9999-12-31T23:59:59Z", 253402300799},
	};
	time_t t;

	(void)state;
	for (size_t i = 0; i < EP_ARRAY_SIZE(cases); i++) {
		t = -1;
		if (ep_time_parse(cases[i].s, &t) != 0 || t != cases[i].t)
			fail_msg("'%s' parsed to %lld, expected %lld", cases[i].s, (long long)t,
				 (long long)cases[i].t);
	}
}

static void test_time_roundtrip(void **state)
{
	char buf[32];
	time_t t, back;

	(void)state;
	/* every ~11 days from 1970 to 2100, plus the second before/after */
	for (t = 0; t < 4102444800; t += 977777) {
		for (time_t d = -1; d <= 1; d++) {
			time_t x = t + d < 0 ? 0 : t + d;
			assert_int_equal(ep_time_format(x, buf, sizeof(buf)), 0);
			assert_int_equal(ep_time_parse(buf, &back), 0);
			assert_true(back == x);
		}
	}
}

static void test_time_parse_bad(void **state)
{
	static const char *const bad[] = {
		"",
		"2026-11-26",
		"2026-11-26T21:42",
		"2026-11-26T21:42:02",       /* no zone */
		"2026-11-26 21:42:02Z",      /* space instead of T */
		"2026-11-26T21:42:02.Z",     /* empty fraction */
		"2026-11-26T21:42:02+0200",  /* offset without colon */
		"2026-11-26T21:42:02+02",    /* short offset */
		"2026-11-26T21:42:02+24:00", /* offset hour */
		"2026-11-26T21:42:02+02:60", /* offset minute */
		"2026-11-26T21:42:02Z ",     /* trailing space */
		" 2026-11-26T21:42:02Z",     /* leading space */
		"2026-11-26T21:42:02ZZ",
		"2026-13-01T00:00:00Z",
		"2026-00-01T00:00:00Z",
		"2026-11-00T00:00:00Z",
		"2026-11-31T00:00:00Z",
		"2026-02-29T00:00:00Z", /* not a leap year */
		"1900-02-29T00:00:00Z", /* not a leap year either */
		"2026-11-26T24:00:00Z",
		"2026-11-26T23:60:00Z",
		"2026-11-26T23:59:61Z",
		"+2026-11-26T21:42:02Z",
		"26-11-26T21:42:02Z",
		"2026-1-26T21:42:02Z",
		"2026-11-26T21:42:02\x01Z",
		"2026/11/26T21:42:02Z",
		"2026-11-26T21:42:02.12a3Z",
		"yesterday",
	};
	time_t t = 42;

	(void)state;
	for (size_t i = 0; i < EP_ARRAY_SIZE(bad); i++) {
		if (ep_time_parse(bad[i], &t) != -EINVAL)
			fail_msg("'%s' was accepted", bad[i]);
	}
	assert_int_equal(ep_time_parse(NULL, &t), -EINVAL);
	assert_true(t == 42); /* untouched on failure */
}

/* ---- numbers ---- */

static void test_parse_int64(void **state)
{
	int64_t v = 0;

	(void)state;
	assert_int_equal(ep_parse_int64("0", INT64_MIN, INT64_MAX, &v), 0);
	assert_true(v == 0);
	assert_int_equal(ep_parse_int64("-17", INT64_MIN, INT64_MAX, &v), 0);
	assert_true(v == -17);
	assert_int_equal(ep_parse_int64("+17", INT64_MIN, INT64_MAX, &v), 0);
	assert_true(v == 17);
	assert_int_equal(ep_parse_int64("010", INT64_MIN, INT64_MAX, &v), 0);
	assert_true(v == 10); /* decimal, never octal */
	assert_int_equal(ep_parse_int64("9223372036854775807", INT64_MIN, INT64_MAX, &v), 0);
	assert_true(v == INT64_MAX);
	assert_int_equal(ep_parse_int64("-9223372036854775808", INT64_MIN, INT64_MAX, &v), 0);
	assert_true(v == INT64_MIN);
	v = 5;
	assert_int_equal(ep_parse_int64("9223372036854775808", INT64_MIN, INT64_MAX, &v), -ERANGE);
	assert_int_equal(ep_parse_int64("-9223372036854775809", INT64_MIN, INT64_MAX, &v), -ERANGE);
	assert_int_equal(ep_parse_int64("99999999999999999999999", INT64_MIN, INT64_MAX, &v),
			 -ERANGE);
	assert_int_equal(ep_parse_int64("11", 0, 10, &v), -ERANGE);
	assert_int_equal(ep_parse_int64("-1", 0, 10, &v), -ERANGE);
	assert_int_equal(ep_parse_int64("10", 0, 10, &v), 0);
	assert_true(v == 10);
	v = 5;
	static const char *const bad[] = {"",  " 1",  "1 ",  "0x10", "1e3", "12a", "-",
					  "+", "--1", "1.0", "\t1",  "1\n", "٣"};
	for (size_t i = 0; i < EP_ARRAY_SIZE(bad); i++)
		if (ep_parse_int64(bad[i], INT64_MIN, INT64_MAX, &v) != -EINVAL)
			fail_msg("'%s' was accepted", bad[i]);
	assert_int_equal(ep_parse_int64(NULL, 0, 1, &v), -EINVAL);
	assert_true(v == 5);
}

static void test_parse_duration(void **state)
{
	static const struct {
		const char *s;
		int64_t secs;
	} good[] = {
		{"300", 300},   {"300s", 300}, {"5m", 300}, {"2h", 7200},
		{"7d", 604800}, {"0", 0},      {"0s", 0},
	};
	int64_t v = 0;

	(void)state;
	for (size_t i = 0; i < EP_ARRAY_SIZE(good); i++) {
		if (ep_parse_duration(good[i].s, 0, INT64_MAX, &v) != 0 || v != good[i].secs)
			fail_msg("'%s' -> %lld", good[i].s, (long long)v);
	}
	v = 77;
	static const char *const bad[] = {"",    "s",   "m",   "5x", "-5m",  "+5m", "5 m",
					  "5ms", " 5m", "5m ", "5M", "1.5h", "h5"};
	for (size_t i = 0; i < EP_ARRAY_SIZE(bad); i++)
		if (ep_parse_duration(bad[i], 0, INT64_MAX, &v) != -EINVAL)
			fail_msg("'%s' was accepted", bad[i]);
	assert_true(v == 77);
	/* 106751991167301 days overflow int64 seconds */
	assert_int_equal(ep_parse_duration("106751991167301d", 0, INT64_MAX, &v), -ERANGE);
	assert_int_equal(ep_parse_duration("99999999999999999999", 0, INT64_MAX, &v), -ERANGE);
	assert_int_equal(ep_parse_duration("10s", 30, 3600, &v), -ERANGE);
	assert_int_equal(ep_parse_duration("2h", 30, 3600, &v), -ERANGE);
	assert_int_equal(ep_parse_duration("1h", 30, 3600, &v), 0);
	assert_true(v == 3600);
}

/* ---- files ---- */

static void read_back(const char *path, const char *expect)
{
	char *data = NULL;
	size_t len = 0;

	assert_int_equal(ep_read_file(path, 1 << 20, &data, &len), 0);
	assert_int_equal(len, strlen(expect));
	assert_memory_equal(data, expect, len);
	assert_int_equal(data[len], '\0');
	free(data);
}

static void test_atomic_write(void **state)
{
	char dir[512], path[1024];
	struct stat st;
	mode_t old;

	(void)state;
	subdir("aw", dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/state", dir);
	assert_int_equal(ep_atomic_write(path, "first", 5, 0600), 0);
	read_back(path, "first");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(count_entries(dir), 1);

	/* replace, and the mode is exact regardless of umask */
	old = umask(077);
	assert_int_equal(ep_atomic_write(path, "second, longer", 14, 0644), 0);
	umask(old);
	read_back(path, "second, longer");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(count_entries(dir), 1);

	/* empty content */
	assert_int_equal(ep_atomic_write(path, "", 0, 0600), 0);
	read_back(path, "");
	assert_int_equal(count_entries(dir), 1);

	/* a relative path (directory "." of the process) */
	char cwd[PATH_MAX];
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(dir), 0);
	assert_int_equal(ep_atomic_write("rel", "r", 1, 0600), 0);
	assert_int_equal(chdir(cwd), 0);
	snprintf(path, sizeof(path), "%s/rel", dir);
	read_back(path, "r");
	assert_int_equal(count_entries(dir), 2);
}

static void test_atomic_write_failures(void **state)
{
	char dir[512], path[1024];
	struct rlimit rl, small;
	char *big;
	void (*old_handler)(int);

	(void)state;
	subdir("awf", dir, sizeof(dir));

	/* the directory does not exist: nothing is created anywhere */
	snprintf(path, sizeof(path), "%s/missing/file", dir);
	assert_int_equal(ep_atomic_write(path, "x", 1, 0600), -ENOENT);
	assert_int_equal(count_entries(dir), 0);

	/* the target is a directory: the temp file was written, rename fails,
	 * and the temp file must be gone */
	snprintf(path, sizeof(path), "%s/adir", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(ep_atomic_write(path, "x", 1, 0600), -EISDIR);
	assert_int_equal(count_entries(dir), 1);
	assert_int_equal(ep_atomic_write("/", "x", 1, 0600), -EISDIR);
	snprintf(path, sizeof(path), "%s/adir/", dir);
	assert_int_equal(ep_atomic_write(path, "x", 1, 0600), -EISDIR);

	/* write(2) fails half way (file size limit): old content untouched, no
	 * temp file left */
	snprintf(path, sizeof(path), "%s/keep", dir);
	assert_int_equal(ep_atomic_write(path, "old content", 11, 0600), 0);
	big = malloc(64 * 1024);
	assert_non_null(big);
	memset(big, 'b', 64 * 1024);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &rl), 0);
	small = rl;
	small.rlim_cur = 4096;
	old_handler = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	int r = ep_atomic_write(path, big, 64 * 1024, 0600);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &rl), 0);
	signal(SIGXFSZ, old_handler);
	free(big);
	assert_int_equal(r, -EFBIG);
	read_back(path, "old content");
	assert_int_equal(count_entries(dir), 2); /* adir + keep */

	assert_int_equal(ep_atomic_write("", "x", 1, 0600), -EINVAL);
	assert_int_equal(ep_atomic_write(path, NULL, 1, 0600), -EINVAL);
}

static void test_read_file(void **state)
{
	char dir[512], path[1024];
	char sentinel[] = "sentinel";
	char *data = sentinel;
	size_t len = 99;

	(void)state;
	subdir("rf", dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/f", dir);
	assert_int_equal(ep_atomic_write(path, "0123456789", 10, 0600), 0);
	assert_int_equal(ep_read_file(path, 10, &data, &len), 0);
	assert_int_equal(len, 10);
	assert_string_equal(data, "0123456789");
	free(data);
	data = sentinel;
	assert_int_equal(ep_read_file(path, 9, &data, &len), -EFBIG);
	assert_string_equal(data, "sentinel"); /* untouched */
	assert_int_equal(ep_read_file(path, 0, &data, &len), -EFBIG);

	/* empty file */
	assert_int_equal(ep_atomic_write(path, "", 0, 0600), 0);
	assert_int_equal(ep_read_file(path, 0, &data, &len), 0);
	assert_int_equal(len, 0);
	assert_string_equal(data, "");
	free(data);

	/* a /proc file reports size 0 but has content; the cap still holds */
	assert_int_equal(ep_read_file("/proc/self/status", 1 << 20, &data, &len), 0);
	assert_true(len > 0);
	assert_non_null(strstr(data, "Name:"));
	assert_int_equal(strlen(data), len);
	free(data);
	data = sentinel;
	assert_int_equal(ep_read_file("/proc/self/status", 16, &data, &len), -EFBIG);

	snprintf(path, sizeof(path), "%s/nope", dir);
	assert_int_equal(ep_read_file(path, 100, &data, &len), -ENOENT);
	assert_int_equal(ep_read_file(dir, 100, &data, &len), -EISDIR);
	assert_string_equal(data, "sentinel");
}

static void test_mkdir_p(void **state)
{
	char dir[512], path[1024];
	struct stat st;

	(void)state;
	subdir("mk", dir, sizeof(dir));
	mode_t old = umask(022);
	snprintf(path, sizeof(path), "%s/a/b//c/", dir);
	assert_int_equal(ep_mkdir_p(path, 0750), 0);
	umask(old);
	snprintf(path, sizeof(path), "%s/a/b/c", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(ep_mkdir_p(path, 0750), 0); /* exists: fine */
	snprintf(path, sizeof(path), "%s/a/b", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0750);

	snprintf(path, sizeof(path), "%s/file", dir);
	assert_int_equal(ep_atomic_write(path, "x", 1, 0600), 0);
	assert_int_equal(ep_mkdir_p(path, 0700), -ENOTDIR);
	snprintf(path, sizeof(path), "%s/file/sub", dir);
	assert_int_equal(ep_mkdir_p(path, 0700), -ENOTDIR);
	assert_int_equal(ep_mkdir_p("", 0700), -EINVAL);
	assert_int_equal(ep_mkdir_p("/", 0700), 0);
}

static void test_fsync_dir(void **state)
{
	char dir[512], path[1024];

	(void)state;
	subdir("fs", dir, sizeof(dir));
	assert_int_equal(ep_fsync_dir(dir), 0);
	snprintf(path, sizeof(path), "%s/somefile", dir);
	assert_int_equal(ep_fsync_dir(path), 0); /* its directory */
	snprintf(path, sizeof(path), "%s/missing/somefile", dir);
	assert_int_equal(ep_fsync_dir(path), -ENOENT);
	assert_int_equal(ep_fsync_dir("/"), 0);
}

/* ---- ep_buf ---- */

static void test_buf(void **state)
{
	struct ep_buf b;
	char *s;

	(void)state;
	ep_buf_init(&b, 10);
	assert_null(b.data);
	assert_int_equal(ep_buf_append(&b, "0123456789", 10), 0);
	assert_int_equal(b.len, 10);
	assert_string_equal(b.data, "0123456789");
	assert_int_equal(ep_buf_append(&b, "x", 1), -E2BIG);
	assert_int_equal(b.len, 10);
	assert_string_equal(b.data, "0123456789");
	assert_int_equal(ep_buf_append(&b, "", 0), 0);
	assert_true(b.cap <= 11); /* never allocates past the cap */

	ep_buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	assert_int_equal(ep_buf_printf(&b, "%d-%s", 42, "abc"), 0);
	assert_string_equal(b.data, "42-abc");
	assert_int_equal(ep_buf_printf(&b, "%s", "12345"), -E2BIG);
	assert_string_equal(b.data, "42-abc"); /* unchanged */
	assert_int_equal(ep_buf_printf(&b, "%s", "1234"), 0);
	assert_string_equal(b.data, "42-abc1234");
	s = ep_buf_steal(&b);
	assert_string_equal(s, "42-abc1234");
	free(s);
	assert_null(b.data);
	assert_int_equal(b.len, 0);

	/* steal of an empty buffer still gives a string */
	s = ep_buf_steal(&b);
	assert_non_null(s);
	assert_string_equal(s, "");
	free(s);

	/* growth over many appends, embedded NUL bytes kept */
	ep_buf_init(&b, 1 << 20);
	for (int i = 0; i < 10000; i++)
		assert_int_equal(ep_buf_printf(&b, "%04d,", i % 10000), 0);
	assert_int_equal(b.len, 50000);
	assert_memory_equal(b.data + 5 * 9999, "9999,", 5);
	assert_int_equal(ep_buf_append(&b, "a\0b", 3), 0);
	assert_int_equal(b.len, 50003);
	assert_memory_equal(b.data + 50000, "a\0b", 4);
	ep_buf_free(&b);
	ep_buf_free(&b); /* twice is fine */
	ep_buf_free(NULL);

	/* max 0 */
	ep_buf_init(&b, 0);
	assert_int_equal(ep_buf_append(&b, "", 0), 0);
	assert_string_equal(b.data, "");
	assert_int_equal(ep_buf_append(&b, "a", 1), -E2BIG);
	ep_buf_free(&b);
}

static void test_snprintf(void **state)
{
	char buf[8];

	(void)state;
	assert_int_equal(ep_snprintf(buf, sizeof(buf), "%s", "1234567"), 0);
	assert_string_equal(buf, "1234567");
	assert_int_equal(ep_snprintf(buf, sizeof(buf), "%s", "12345678"), -ENOSPC);
	assert_string_equal(buf, "1234567");
	assert_int_equal(ep_snprintf(buf, 0, "%s", "x"), -ENOSPC);
	assert_int_equal(ep_snprintf(NULL, 0, "%s", "x"), -ENOSPC);
}

/* ---- UTF-8 ---- */

static void test_utf8(void **state)
{
	static const struct {
		const char *s;
		size_t len;
		bool ok;
		const char *what;
	} cases[] = {
		{"", 0, true, "empty"},
		{"hello", 5, true, "ascii"},
		{"\x7f", 1, true, "DEL"},
		{"\xc2\x80", 2, true, "U+0080"},
		{"\xdf\xbf", 2, true, "U+07FF"},
		{"\xe0\xa0\x80", 3, true, "U+0800"},
		{"\xed\x9f\xbf", 3, true, "U+D7FF"},
		{"\xee\x80\x80", 3, true, "U+E000"},
		{"\xef\xbf\xbf", 3, true, "U+FFFF"},
		{"\xf0\x90\x80\x80", 4, true, "U+10000"},
		{"\xf4\x8f\xbf\xbf", 4, true, "U+10FFFF"},
		{"gr\xc3\xbc\xc3\x9f \xe2\x82\xac \xf0\x9f\x98\x80", 15, true, "mixed"},
		{"a\0b", 3, false, "NUL byte"},
		{"\0", 1, false, "lone NUL"},
		{"\xc0\x80", 2, false, "overlong NUL"},
		{"\xc1\xbf", 2, false, "overlong 2-byte"},
		{"\xe0\x80\x80", 3, false, "overlong 3-byte U+0000"},
		{"\xe0\x9f\xbf", 3, false, "overlong 3-byte U+07FF"},
		{"\xf0\x80\x80\x80", 4, false, "overlong 4-byte"},
		{"\xf0\x8f\xbf\xbf", 4, false, "overlong 4-byte U+FFFF"},
		{"\xed\xa0\x80", 3, false, "surrogate U+D800"},
		{"\xed\xbf\xbf", 3, false, "surrogate U+DFFF"},
		{"\xed\xa0\xbd\xed\xb8\x80", 6, false, "CESU-8 pair"},
		{"\xf4\x90\x80\x80", 4, false, "U+110000"},
		{"\xf5\x80\x80\x80", 4, false, "F5 lead"},
		{"\xf8\x88\x80\x80\x80", 5, false, "5-byte form"},
		{"\xfc\x84\x80\x80\x80\x80", 6, false, "6-byte form"},
		{"\xfe", 1, false, "FE"},
		{"\xff", 1, false, "FF"},
		{"\x80", 1, false, "lone continuation"},
		{"a\xbf", 2, false, "continuation after ascii"},
		{"\xe2\x82", 2, false, "truncated 3-byte"},
		{"\xf0\x9f\x98", 3, false, "truncated 4-byte"},
		{"\xc3", 1, false, "truncated 2-byte"},
		{"\xe2\x28\xa1", 3, false, "bad second byte"},
		{"\xe2\x82\x28", 3, false, "bad third byte"},
		{"\xc3\xa9\xe9", 3, false, "latin-1 after valid"},
	};

	(void)state;
	for (size_t i = 0; i < EP_ARRAY_SIZE(cases); i++) {
		if (ep_utf8_valid(cases[i].s, cases[i].len) != cases[i].ok)
			fail_msg("utf8 case '%s': expected %s", cases[i].what,
				 cases[i].ok ? "valid" : "invalid");
	}
	/* the length is honoured: the invalid byte after len is not looked at */
	assert_true(ep_utf8_valid("ab\xff", 2));
	assert_false(ep_utf8_valid("\xe2\x82\xac", 2));
}

static void check_password(const char *conninfo, const char *want)
{
	char out[256];

	ep_conninfo_password(conninfo, out, sizeof(out));
	if (strcmp(out, want) != 0)
		fail_msg("'%s' -> '%s', want '%s'", conninfo, out, want);
}

/* Secrets never reach a message: the password is found however the
 * conninfo or URL spells it, and every occurrence is masked. */
static void test_redact(void **state)
{
	(void)state;
	check_password("host=x password=s3cret user=u", "s3cret");
	check_password("host=x password = 'se cr\\'et' user=u", "se cr\\'et");
	check_password("mypassword=x host=y", "");
	check_password("postgresql://u:p%zzw@h:5432/db", "p%zzw");
	check_password("postgres://u@h/db?sslmode=require&password=qq", "qq");
	check_password("postgresql://h/db", "");
	check_password("", "");

	char b[32] = "xx secret yy secret";
	ep_redact(b, sizeof(b), "secret");
	assert_string_equal(b, "xx *** yy ***");
	char c[8] = "aaaaaaa";
	ep_redact(c, sizeof(c), "a");
	assert_true(strlen(c) < 8);
	assert_null(strchr(c, 'a'));
	char d[16] = "no match";
	ep_redact(d, sizeof(d), "");
	assert_string_equal(d, "no match");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clocks),         cmocka_unit_test(test_deadlines),
		cmocka_unit_test(test_time_format),    cmocka_unit_test(test_time_parse_good),
		cmocka_unit_test(test_time_roundtrip), cmocka_unit_test(test_time_parse_bad),
		cmocka_unit_test(test_parse_int64),    cmocka_unit_test(test_parse_duration),
		cmocka_unit_test(test_atomic_write),   cmocka_unit_test(test_atomic_write_failures),
		cmocka_unit_test(test_read_file),      cmocka_unit_test(test_mkdir_p),
		cmocka_unit_test(test_fsync_dir),      cmocka_unit_test(test_buf),
		cmocka_unit_test(test_snprintf),       cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_redact),
	};

	return cmocka_run_group_tests_name("util", tests, setup, teardown);
}
