/* The patches probe's cache rule (probes/patches/cache.c) over a fake root
 * in a temp dir, with the clock given by the test (no sleeps): what changes
 * the inputs' fingerprint, when the simulation runs again, and a two-day
 * timeline of 5-minute cycles counting the runs. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "erpulse/util.h"
#include "probes/patches/cache.h"

#define T0 1796500000 /* the fake clock's start */

static char root[256];

static void put(const char *rel, const char *text, int64_t mtime)
{
	char p[512];
	struct timespec ts[2] = {{.tv_sec = mtime}, {.tv_sec = mtime}};

	snprintf(p, sizeof(p), "%s%s", root, rel);
	assert_int_equal(ep_atomic_write(p, text, strlen(text), 0644), 0);
	assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
}

/* appends in place (same inode), then sets the mtime */
static void append(const char *rel, const char *text, int64_t mtime)
{
	char p[512];
	struct timespec ts[2] = {{.tv_sec = mtime}, {.tv_sec = mtime}};
	FILE *f;

	snprintf(p, sizeof(p), "%s%s", root, rel);
	f = fopen(p, "a");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
}

static void set_mtime(const char *rel, int64_t mtime)
{
	char p[512];
	struct timespec ts[2] = {{.tv_sec = mtime}, {.tv_sec = mtime}};

	snprintf(p, sizeof(p), "%s%s", root, rel);
	assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
}

static void mk(const char *rel)
{
	char p[512];

	snprintf(p, sizeof(p), "%s%s", root, rel);
	assert_int_equal(ep_mkdir_p(p, 0755), 0);
}

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/test_patches_cache.XXXXXX");
	assert_non_null(mkdtemp(root));
	mk("/var/lib/dpkg");
	mk("/var/lib/apt/lists");
	mk("/proc/sys/kernel/random");
	put("/var/lib/dpkg/status", "Package: libc6\n", T0 - 86400);
	put("/var/lib/apt/lists/deb.debian.org_Packages", "Package: libc6\n", T0 - 86400);
	set_mtime("/var/lib/apt/lists", T0 - 86400);
	put("/proc/sys/kernel/random/boot_id", "3f0c9a52-0000-4000-8000-000000000001\n", T0);
	return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int teardown(void **state)
{
	(void)state;
	return nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void inputs(char *out, size_t size)
{
	assert_int_equal(probe_patches_inputs_fingerprint(root, false, out, size), 0);
}

static void test_fingerprint_changes(void **state)
{
	char a[2048], b[2048];
	(void)state;

	inputs(a, sizeof(a));
	inputs(b, sizeof(b));
	assert_string_equal(a, b);        /* stable while nothing changes */
	assert_non_null(strstr(a, "|-")); /* missing inputs (sources.list, flag) named */

	append("/var/lib/dpkg/status", "Package: libc6-new\n", T0 - 86400);
	inputs(b, sizeof(b));
	assert_string_not_equal(a, b); /* size, same mtime: a package installed */
	memcpy(a, b, sizeof(a));

	set_mtime("/var/lib/dpkg/status", T0);
	inputs(b, sizeof(b));
	assert_string_not_equal(a, b); /* mtime alone */
	memcpy(a, b, sizeof(a));

	/* apt-get update renames new lists in: the directory's mtime moves */
	put("/var/lib/apt/lists/security.debian.org_Packages", "Package: openssl\n", T0);
	set_mtime("/var/lib/apt/lists", T0 + 1);
	inputs(b, sizeof(b));
	assert_string_not_equal(a, b);
	memcpy(a, b, sizeof(a));

	/* a file replaced by another of the same size and mtime: the inode */
	put("/var/lib/dpkg/status", "Package: libc6\nPackage: libc6-new\n", T0);
	inputs(b, sizeof(b));
	assert_string_not_equal(a, b);
	memcpy(a, b, sizeof(a));

	mk("/run");
	put("/run/reboot-required", "*** System restart required ***\n", T0);
	inputs(b, sizeof(b));
	assert_string_not_equal(a, b); /* the reboot flag appears */

	/* too small a buffer is an error, never a cut fingerprint */
	assert_int_equal(probe_patches_inputs_fingerprint(root, false, b, 20), -ENOSPC);
	assert_int_equal(probe_patches_inputs_fingerprint(root, true, b, sizeof(b)), 0);
	assert_string_not_equal(a, b); /* dnf watches other files */
}

static void test_boot_fingerprint(void **state)
{
	char a[512], b[512];
	(void)state;

	assert_int_equal(
		probe_patches_boot_fingerprint(root, false, "6.1.0-18-amd64", a, sizeof(a)), 0);
	assert_string_equal(a, "apt|6.1.0-18-amd64|3f0c9a52-0000-4000-8000-000000000001");
	assert_int_equal(
		probe_patches_boot_fingerprint(root, false, "6.1.0-21-amd64", b, sizeof(b)), 0);
	assert_string_not_equal(a, b);
	put("/proc/sys/kernel/random/boot_id", "3f0c9a52-0000-4000-8000-000000000002\n", T0);
	assert_int_equal(
		probe_patches_boot_fingerprint(root, false, "6.1.0-18-amd64", b, sizeof(b)), 0);
	assert_string_not_equal(a, b); /* rebooted into the same kernel */
	assert_int_equal(probe_patches_boot_fingerprint(root, true, "6.1.0-18-amd64", b, sizeof(b)),
			 0);
	assert_string_not_equal(a, b);
	assert_int_equal(probe_patches_boot_fingerprint(root, false, "k", b, 5), -ENOSPC);
}

static json_t *cache_of(const char *in, const char *boot, int64_t at)
{
	return json_pack("{s:s, s:s, s:I, s:{}, s:[]}", "inputs", in, "boot", boot, "at",
			 (json_int_t)at, "metrics", "findings");
}

static void test_decide(void **state)
{
	const struct probe_patches_policy p = {.min_interval_s = 600, .max_age_s = 86400};
	const struct probe_patches_policy every = {.min_interval_s = 600, .max_age_s = 0};
	static const struct {
		const char *why;
		bool every, none;
		const char *in, *boot;
		int64_t after; /* seconds after the cached run */
		enum probe_patches_decision want;
	} cases[] = {
		{"no cache", false, true, "IN", "BOOT", 0, PROBE_PATCHES_RUN_FIRST},
		{"unchanged", false, false, "IN", "BOOT", 300, PROBE_PATCHES_CACHED},
		{"unchanged, 1 s short of max_age", false, false, "IN", "BOOT", 86399,
		 PROBE_PATCHES_CACHED},
		{"max_age", false, false, "IN", "BOOT", 86400, PROBE_PATCHES_RUN_EXPIRED},
		{"max_age 0", true, false, "IN", "BOOT", 1, PROBE_PATCHES_RUN_EXPIRED},
		{"changed within min_interval", false, false, "IN2", "BOOT", 599,
		 PROBE_PATCHES_CACHED_PENDING},
		{"changed, min_interval passed", false, false, "IN2", "BOOT", 600,
		 PROBE_PATCHES_RUN_CHANGED},
		{"a reboot does not wait", false, false, "IN", "BOOT2", 1, PROBE_PATCHES_RUN_BOOT},
		{"the clock went back", false, false, "IN", "BOOT", -1, PROBE_PATCHES_RUN_FIRST},
	};
	json_t *c = cache_of("IN", "BOOT", T0);
	json_t *bad[3];
	int64_t age;
	(void)state;

	for (size_t i = 0; i < EP_ARRAY_SIZE(cases); i++) {
		enum probe_patches_decision d =
			probe_patches_decide(cases[i].every ? &every : &p, cases[i].none ? NULL : c,
					     cases[i].in, cases[i].boot, T0 + cases[i].after, &age);
		if (d != cases[i].want)
			fail_msg("%s: %s, want %s", cases[i].why, probe_patches_decision_name(d),
				 probe_patches_decision_name(cases[i].want));
		assert_int_equal(age, cases[i].none || cases[i].after < 0 ? 0 : cases[i].after);
	}
	/* a cache from the former format (one "fingerprint"), or damaged */
	bad[0] = json_pack("{s:s, s:I, s:{}, s:[]}", "fingerprint", "x", "at", (json_int_t)T0,
			   "metrics", "findings");
	bad[1] = json_pack("{s:s, s:s, s:s, s:{}, s:[]}", "inputs", "IN", "boot", "BOOT", "at", "1",
			   "metrics", "findings");
	bad[2] = json_pack("{s:s, s:s, s:I, s:[]}", "inputs", "IN", "boot", "BOOT", "at",
			   (json_int_t)T0, "findings");
	for (size_t i = 0; i < EP_ARRAY_SIZE(bad); i++) {
		assert_int_equal(probe_patches_decide(&p, bad[i], "IN", "BOOT", T0 + 1, &age),
				 PROBE_PATCHES_RUN_FIRST);
		json_decref(bad[i]);
	}
	json_decref(c);
	assert_string_equal(probe_patches_decision_name(PROBE_PATCHES_CACHED_PENDING), "pending");
	assert_true(probe_patches_decision_runs(PROBE_PATCHES_RUN_CHANGED));
	assert_false(probe_patches_decision_runs(PROBE_PATCHES_CACHED));
}

/* Two days of 5-minute cycles as the probe drives the rule. busy: apt-get
 * update at 06:00 and 18:00 (new lists) and an unattended upgrade writing
 * dpkg's status before each cycle from 06:30 to 06:45; else nothing changes.
 * Returns the runs. */
static int timeline(const struct probe_patches_policy *p, bool busy)
{
	json_t *cache = NULL;
	int runs = 0;

	for (int64_t now = T0; now < T0 + 2 * 86400; now += 300) {
		int64_t tod = (now - T0) % 86400, age;
		char in[2048];

		if (busy && (tod == 6 * 3600 || tod == 18 * 3600)) {
			put("/var/lib/apt/lists/deb.debian.org_Packages", "Package: libc6\n", now);
			set_mtime("/var/lib/apt/lists", now);
		}
		if (busy && tod >= 6 * 3600 + 1800 && tod < 6 * 3600 + 3000)
			append("/var/lib/dpkg/status", "x\n", now);
		inputs(in, sizeof(in));
		if (probe_patches_decision_runs(
			    probe_patches_decide(p, cache, in, "B", now, &age))) {
			runs++;
			json_decref(cache);
			cache = cache_of(in, "B", now);
		}
	}
	json_decref(cache);
	return runs;
}

static void test_timeline(void **state)
{
	const struct probe_patches_policy def = {.min_interval_s = 600, .max_age_s = 86400};
	const struct probe_patches_policy eager = {.min_interval_s = 0, .max_age_s = 86400};
	const struct probe_patches_policy every = {.min_interval_s = 600, .max_age_s = 0};
	(void)state;

	/* nothing changes: the first cycle and once 24 h later */
	assert_int_equal(timeline(&def, false), 2);
	/* per day 06:00 (lists), 06:30, 06:40, 06:50 (the upgrade: 10 min apart,
	 * the last one after its last write), 18:00 (lists); plus the first */
	assert_int_equal(timeline(&def, true), 1 + 2 * 5);
	/* without the spacing every cycle of the upgrade runs it */
	assert_int_equal(timeline(&eager, true), 1 + 2 * 6);
	/* max_age 0: every one of the 576 cycles */
	assert_int_equal(timeline(&every, true), 2 * 86400 / 300);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fingerprint_changes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_boot_fingerprint, setup, teardown),
		cmocka_unit_test(test_decide),
		cmocka_unit_test_setup_teardown(test_timeline, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
