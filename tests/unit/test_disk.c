/* The disk probe: golden tests over fixture trees (tests/fixtures/disk/<case>/),
 * each checked against its expected.json and with explicit assertions on what
 * the case is about; UPDATE_GOLDEN=1 rewrites expected.json. statvfs and the
 * clock are injected (statvfs.txt in the case holds the figures), everything
 * else (mountinfo, fstab, diskstats, boot_id parsing, selection, findings,
 * state across two cycles) is the probe's own code. A live check against
 * df(1) is in tests/integration/30-disk.sh. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cmocka.h>

#include "erpulse/config.h"
#include "erpulse/probe.h"
#include "erpulse/report.h"
#include "erpulse/util.h"
#include "probes/disk/disk.h"

static int64_t fake_now_ms;

static int64_t fake_clock(void)
{
	return fake_now_ms;
}

struct fake_fs {
	const char *root;
	char *text; /* statvfs.txt */
};

static void unescape(char *s)
{
	char *w = s;
	for (char *r = s; *r;) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
		    r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 4;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
}

/* Looks the mount point up in statvfs.txt:
 *   MOUNT_POINT BYTES_TOTAL BYTES_FREE BYTES_AVAIL INODES_TOTAL INODES_FREE INODES_AVAIL
 *   MOUNT_POINT error ETIMEDOUT|EACCES|ENOENT|EIO */
static int fake_statfs(void *arg, const char *path, const char *fstype, int64_t timeout_ms,
		       struct probe_disk_fsstat *ret)
{
	struct fake_fs *f = arg;
	size_t rl = strlen(f->root);
	const char *mp = path + rl;
	char line[1024];
	(void)fstype;
	(void)timeout_ms;

	assert_true(strncmp(path, f->root, rl) == 0);
	for (const char *p = f->text; *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		if (len < sizeof(line) && p[0] != '#') {
			char name[512], a[64];
			unsigned long long v[6];
			memcpy(line, p, len);
			line[len] = '\0';
			if (sscanf(line, "%511s %63s", name, a) == 2) {
				unescape(name);
				if (strcmp(name, mp) == 0) {
					if (strcmp(a, "error") == 0) {
						char e[64] = "";
						assert_int_equal(sscanf(line, "%*s %*s %63s", e),
								 1);
						if (!strcmp(e, "ETIMEDOUT"))
							return -ETIMEDOUT;
						if (!strcmp(e, "EACCES"))
							return -EACCES;
						if (!strcmp(e, "EIO"))
							return -EIO;
						return -ENOENT;
					}
					assert_int_equal(
						sscanf(line, "%*s %llu %llu %llu %llu %llu %llu",
						       &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]),
						6);
					ret->bytes_total = v[0];
					ret->bytes_free = v[1];
					ret->bytes_avail = v[2];
					ret->inodes_total = v[3];
					ret->inodes_free = v[4];
					ret->inodes_avail = v[5];
					return 0;
				}
			}
		}
		p = nl ? nl + 1 : p + len;
	}
	fail_msg("statvfs.txt has no line for '%s'", mp);
	return -ENOENT;
}

static const char *srcdir(void)
{
	const char *s = getenv("ERPULSE_SRCDIR");
	return s && *s ? s : ".";
}

static bool exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

/* One cycle of the probe over root with the case's config and statvfs. */
static void one_cycle(const struct ep_config_section *section, const char *root, struct fake_fs *fs,
		      json_t *state, struct ep_probe_result *r)
{
	struct probe_disk_ctx *ctx = NULL;
	char err[512] = "";

	assert_int_equal(probe_disk_ctx_new(section, root, &ctx, err, sizeof(err)), 0);
	ctx->statfs = fake_statfs;
	ctx->statfs_arg = fs;
	ctx->clock_ms = fake_clock;
	fs->root = root;
	memset(r, 0, sizeof(*r));
	r->status = EP_STATUS_OK;
	r->metrics = json_object();
	r->findings = json_array();
	r->state = state;
	struct ep_deadline d = ep_deadline_in(10000);
	probe_disk_measure(ctx, &d, r);
	probe_disk_ctx_free(ctx);
}

/* Runs a fixture case (two cycles 300 s apart when it has before/) and
 * compares with expected.json. Returns the result object (caller frees). */
static json_t *run_case(const char *name)
{
	char dir[1024], path[1200], root[1200], err[1024] = "";
	struct ep_config *cfg = NULL;
	const struct ep_config_section *section = NULL;
	struct fake_fs fs = {0};
	struct ep_probe_result r;
	size_t len;

	snprintf(dir, sizeof(dir), "%s/tests/fixtures/disk/%s", srcdir(), name);
	snprintf(path, sizeof(path), "%s/statvfs.txt", dir);
	assert_int_equal(ep_read_file(path, 1 << 20, &fs.text, &len), 0);
	snprintf(path, sizeof(path), "%s/config.ini", dir);
	if (exists(path)) {
		if (ep_config_load(path, &cfg, err, sizeof(err)) < 0)
			fail_msg("%s", err);
		section = ep_config_find(cfg, "disk");
		assert_non_null(section);
		if (ep_config_check(section, probe_disk_options, err, sizeof(err)) < 0)
			fail_msg("%s", err);
	}
	json_t *state = json_object();
	snprintf(root, sizeof(root), "%s/before", dir);
	if (exists(root)) {
		fake_now_ms = 1000000;
		one_cycle(section, root, &fs, state, &r);
		assert_int_equal(r.status, EP_STATUS_OK);
		assert_string_equal(json_string_value(json_object_get(r.metrics, "io_status")),
				    "first_sample");
		json_decref(r.metrics);
		json_decref(r.findings);
	}
	fake_now_ms = 1300000;
	snprintf(root, sizeof(root), "%s/root", dir);
	one_cycle(section, root, &fs, state, &r);
	assert_string_equal(r.target, root);

	/* The probe's output must fit the report schema as the agent sends it. */
	json_t *report = ep_report_new("0123456789abcdef0123456789abcdef", 1, 1764193322, 300,
				       json_pack("{s:s, s:s, s:s, s:I}", "hostname", "test", "os",
						 "Debian GNU/Linux 12 (bookworm)", "kernel",
						 "6.1.0", "uptime_s", (json_int_t)1),
				       0);
	assert_non_null(report);
	assert_int_equal(ep_report_add_probe(report, "disk", "/", r.status,
					     r.status == EP_STATUS_OK ? NULL : r.error, 1,
					     json_incref(r.metrics), json_incref(r.findings)),
			 0);
	if (ep_report_validate(report, err, sizeof(err)) < 0)
		fail_msg("report does not validate: %s", err);
	json_decref(report);

	/* the fixture's absolute path must not reach the golden file */
	char *at = strstr(r.error, root);
	if (at) {
		char rest[sizeof(r.error)];
		snprintf(rest, sizeof(rest), "%s", at + strlen(root));
		snprintf(at, sizeof(r.error) - (size_t)(at - r.error), "ROOT%s", rest);
	}
	json_t *out =
		json_pack("{s:s, s:s?, s:o, s:o, s:o}", "status", ep_probe_status_name(r.status),
			  "error", r.status == EP_STATUS_OK ? NULL : r.error, "metrics", r.metrics,
			  "findings", r.findings, "state", state);
	assert_non_null(out);
	char *text = json_dumps(out, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(10));
	assert_non_null(text);
	snprintf(path, sizeof(path), "%s/expected.json", dir);
	const char *update = getenv("UPDATE_GOLDEN");
	if (update && strcmp(update, "1") == 0) {
		struct ep_buf b;
		ep_buf_init(&b, 1 << 20);
		assert_int_equal(ep_buf_printf(&b, "%s\n", text), 0);
		assert_int_equal(ep_atomic_write(path, b.data, b.len, 0644), 0);
		ep_buf_free(&b);
	} else {
		char *want = NULL;
		if (ep_read_file(path, 1 << 20, &want, &len) < 0)
			fail_msg("%s missing: run with UPDATE_GOLDEN=1", path);
		if (len > 0 && want[len - 1] == '\n')
			want[len - 1] = '\0';
		if (strcmp(want, text) != 0) {
			fprintf(stderr, "# got:\n%s\n", text);
			fail_msg("%s differs (UPDATE_GOLDEN=1 refreshes it after review)", path);
		}
		free(want);
	}
	free(text);
	free(fs.text);
	ep_config_free(cfg);
	return out;
}

static json_t *fs_of(json_t *out, const char *mp)
{
	return json_object_get(json_object_get(json_object_get(out, "metrics"), "filesystems"), mp);
}

static json_t *dev_of(json_t *out, const char *name)
{
	return json_object_get(json_object_get(json_object_get(out, "metrics"), "devices"), name);
}

static json_t *finding(json_t *out, const char *kind, const char *object)
{
	size_t i;
	json_t *f;
	json_array_foreach(json_object_get(out, "findings"), i, f)
	{
		if (strcmp(json_string_value(json_object_get(f, "kind")), kind) == 0 &&
		    strcmp(json_string_value(json_object_get(f, "object")), object) == 0)
			return f;
	}
	return NULL;
}

static const char *sev(json_t *f)
{
	return json_string_value(json_object_get(f, "severity"));
}

static double num(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	assert_true(json_is_number(v));
	return json_number_value(v);
}

static void test_basic(void **st)
{
	(void)st;
	json_t *out = run_case("basic");
	json_t *fss = json_object_get(json_object_get(out, "metrics"), "filesystems");
	const char *want[] = {"/",
			      "/boot",
			      "/var/lib/postgresql",
			      "/srv/sessions",
			      "/mnt/erp share",
			      "/mnt/archive",
			      "/srv/btrfs",
			      "/var/backups\\old",
			      "/var/lib/xfsdata"};

	assert_string_equal(json_string_value(json_object_get(out, "status")), "ok");
	assert_int_equal(json_object_size(fss), EP_ARRAY_SIZE(want));
	for (size_t i = 0; i < EP_ARRAY_SIZE(want); i++)
		assert_non_null(json_object_get(fss, want[i]));
	/* bind mounts, PrivateTmp and btrfs subvolumes: the filesystem once */
	assert_string_equal(json_string_value(json_array_get(
				    json_object_get(fs_of(out, "/"), "also_mounted_at"), 0)),
			    "/tmp");
	assert_string_equal(
		json_string_value(json_array_get(
			json_object_get(fs_of(out, "/var/lib/postgresql"), "also_mounted_at"), 0)),
		"/srv/pgdata");
	assert_string_equal(
		json_string_value(json_array_get(
			json_object_get(fs_of(out, "/srv/btrfs"), "also_mounted_at"), 0)),
		"/home");
	/* df arithmetic: used = total - free, use% = used / (used + avail) */
	assert_true(num(fs_of(out, "/"), "bytes_used") == 87000000000.0);
	assert_true(num(fs_of(out, "/"), "usage_pct") == 91.6);
	assert_true(json_is_null(json_object_get(fs_of(out, "/srv/btrfs"), "inode_usage_pct")));
	assert_string_equal(sev(finding(out, "disk_usage", "/")), "warning");
	assert_true(num(finding(out, "disk_usage", "/"), "threshold") == 85);
	assert_string_equal(sev(finding(out, "disk_usage", "/var/lib/postgresql")), "critical");
	/* one rule, both lines in every finding: threshold is the warning line
	 * even when the critical one is crossed (issue 10, "one severity") */
	assert_true(num(finding(out, "disk_usage", "/var/lib/postgresql"), "threshold") == 85);
	assert_true(num(finding(out, "disk_usage", "/var/lib/postgresql"), "critical_threshold") ==
		    95);
	assert_true(num(finding(out, "disk_usage", "/"), "critical_threshold") == 95);
	assert_null(json_object_get(finding(out, "disk_usage", "/"), "direction"));
	assert_null(json_object_get(finding(out, "disk_usage", "/"), "min_size"));
	/* below the warning line: an info finding (the collector forecasts from
	 * every filesystem's series), with no remediation */
	assert_string_equal(sev(finding(out, "disk_usage", "/boot")), "info");
	assert_true(num(finding(out, "disk_usage", "/boot"), "value") == 42.1);
	assert_true(
		json_is_null(json_object_get(finding(out, "disk_usage", "/boot"), "remediation")));
	assert_non_null(json_object_get(finding(out, "disk_usage", "/"), "remediation"));
	assert_string_equal(sev(finding(out, "inode_usage", "/srv/sessions")), "critical");
	assert_string_equal(sev(finding(out, "disk_usage", "/srv/sessions")), "info");
	assert_string_equal(sev(finding(out, "filesystem_unavailable", "/mnt/erp share")),
			    "critical");
	assert_string_equal(sev(finding(out, "filesystem_unavailable", "/var/lib/xfsdata")),
			    "critical");
	assert_null(
		finding(out, "filesystem_unavailable", "/mnt/archive")); /* EACCES: not a fault */
	assert_non_null(json_object_get(fs_of(out, "/mnt/archive"), "error"));
	assert_null(finding(out, "filesystem_readonly", "/"));
	assert_true(num(json_object_get(out, "metrics"), "mountinfo_bad_lines") == 1);
	assert_null(json_object_get(json_object_get(out, "metrics"), "devices")); /* io = no */
	json_decref(out);
}

static void test_readonly(void **st)
{
	(void)st;
	json_t *out = run_case("readonly");

	/* superblock ro under a rw mount: errors=remount-ro fired */
	assert_string_equal(sev(finding(out, "filesystem_readonly", "/")), "critical");
	assert_non_null(strstr(json_string_value(json_object_get(
				       finding(out, "filesystem_readonly", "/"), "message")),
			       "kernel"));
	/* ro everywhere, fstab says rw (with errors=remount-ro, and without) */
	assert_string_equal(sev(finding(out, "filesystem_readonly", "/data")), "critical");
	assert_string_equal(sev(finding(out, "filesystem_readonly", "/var/log")), "critical");
	/* meant to be read-only: fstab ro, not in fstab, a read-only bind */
	assert_null(finding(out, "filesystem_readonly", "/usr"));
	assert_null(finding(out, "filesystem_readonly", "/opt/odoo"));
	assert_null(finding(out, "filesystem_readonly", "/srv"));
	assert_true(json_is_true(json_object_get(fs_of(out, "/usr"), "readonly")));
	assert_true(json_is_false(json_object_get(fs_of(out, "/srv"), "readonly")));
	/* /mnt: the later mount hides the earlier one */
	assert_string_equal(json_string_value(json_object_get(fs_of(out, "/mnt"), "device")),
			    "/dev/sda6");
	/* ext4 on Linux >= 6.9: emergency_ro, superblock flag untouched */
	assert_string_equal(sev(finding(out, "filesystem_readonly", "/srv/odoo-filestore")),
			    "critical");
	assert_true(json_is_true(json_object_get(fs_of(out, "/srv/odoo-filestore"), "readonly")));
	/* the superblock's error count */
	assert_string_equal(sev(finding(out, "filesystem_errors", "/srv/odoo-filestore")),
			    "warning");
	assert_true(num(fs_of(out, "/srv/odoo-filestore"), "fs_errors") == 2);
	assert_true(num(fs_of(out, "/data"), "fs_errors") == 0);
	assert_null(finding(out, "filesystem_errors", "/data"));
	/* besides the usage series of every filesystem, exactly these five */
	size_t i, n_other = 0;
	json_t *f;
	json_array_foreach(json_object_get(out, "findings"), i, f)
	{
		const char *k = json_string_value(json_object_get(f, "kind"));
		if (strcmp(k, "disk_usage") != 0 && strcmp(k, "inode_usage") != 0)
			n_other++;
	}
	assert_int_equal(n_other, 5);
	json_decref(out);
}

static void test_iostat(void **st)
{
	(void)st;
	json_t *out = run_case("iostat");
	json_t *m = json_object_get(out, "metrics");

	assert_string_equal(json_string_value(json_object_get(m, "io_status")), "ok");
	assert_true(num(m, "io_interval_s") == 300);
	/* sda: 36000 I/Os with 2,160,000 ms waited = 60 ms; 270 s busy of 300 */
	json_t *sda = dev_of(out, "sda");
	assert_true(num(sda, "latency_ms") == 60);
	assert_true(num(sda, "iops") == 120);
	assert_true(num(sda, "util_pct") == 90);
	assert_true(num(sda, "read_bytes_per_s") == 3840000.0 * 512 / 300);
	assert_string_equal(json_string_value(json_array_get(json_object_get(sda, "mounts"), 0)),
			    "/");
	assert_string_equal(sev(finding(out, "disk_latency", "sda")), "warning");
	assert_string_equal(sev(finding(out, "disk_latency", "nvme0n1")), "critical");
	assert_true(num(finding(out, "disk_latency", "nvme0n1"), "value") == 250.8);
	/* the rule: 50 ms warning, 200 ms critical, judged from 100 I/Os */
	assert_true(num(finding(out, "disk_latency", "nvme0n1"), "threshold") == 50);
	assert_true(num(finding(out, "disk_latency", "nvme0n1"), "critical_threshold") == 200);
	assert_true(num(finding(out, "disk_latency", "nvme0n1"), "min_size") == 100);
	assert_true(num(finding(out, "disk_latency", "nvme0n1"), "size") >= 100);
	assert_string_equal(json_string_value(json_object_get(
				    finding(out, "disk_latency", "nvme0n1"), "size_unit")),
			    "I/Os");
	assert_true(num(dev_of(out, "nvme0n1"), "util_pct") == 100);
	/* 200 ms but only 20 I/Os: no verdict */
	assert_true(num(dev_of(out, "sdb"), "latency_ms") == 200);
	assert_null(finding(out, "disk_latency", "sdb"));
	/* counters went down: reset, no rates */
	assert_string_equal(json_string_value(json_object_get(dev_of(out, "sdc"), "status")),
			    "counters_reset");
	assert_null(json_object_get(dev_of(out, "sdc"), "iops"));
	/* 32-bit wrap: 4294967000 -> 200 is 496 reads */
	assert_true(num(dev_of(out, "vdb"), "reads_per_s") == 1.7);
	/* partitions, loops, new and idle devices */
	assert_null(dev_of(out, "sda1"));
	assert_null(dev_of(out, "nvme0n1p1"));
	assert_null(dev_of(out, "loop0"));
	assert_null(dev_of(out, "sdd"));
	assert_null(dev_of(out, "sde"));
	assert_non_null(json_object_get(
		json_object_get(json_object_get(json_object_get(out, "state"), "io"), "devices"),
		"sdd"));
	assert_string_equal(json_string_value(json_array_get(
				    json_object_get(dev_of(out, "dm-0"), "mounts"), 0)),
			    "/var/lib/postgresql");
	json_decref(out);
}

static void test_rebooted(void **st)
{
	(void)st;
	json_t *out = run_case("rebooted");
	json_t *m = json_object_get(out, "metrics");

	assert_string_equal(json_string_value(json_object_get(m, "io_status")), "rebooted");
	assert_int_equal(json_object_size(json_object_get(m, "devices")), 0);
	assert_null(finding(out, "disk_latency", "sda"));
	json_decref(out);
}

static void test_options(void **st)
{
	(void)st;
	json_t *out = run_case("options");
	json_t *fss = json_object_get(json_object_get(out, "metrics"), "filesystems");

	assert_int_equal(json_object_size(fss), 2);
	assert_non_null(fs_of(out, "/"));
	assert_non_null(fs_of(out, "/dev/shm"));
	assert_string_equal(sev(finding(out, "disk_usage", "/")), "warning");
	assert_true(num(finding(out, "disk_usage", "/"), "threshold") == 70);
	assert_true(num(finding(out, "disk_usage", "/"), "critical_threshold") == 80);
	assert_string_equal(sev(finding(out, "inode_usage", "/")), "warning");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(out, "metrics"), "io_status")),
		"first_sample");
	json_t *saved =
		json_object_get(json_object_get(json_object_get(out, "state"), "io"), "devices");
	assert_non_null(json_object_get(saved, "sda"));
	assert_null(json_object_get(saved, "sdb"));
	assert_null(json_object_get(saved, "loop0"));
	json_decref(out);
}

static void test_no_mountinfo(void **st)
{
	(void)st;
	json_t *out = run_case("no-mountinfo");
	assert_string_equal(json_string_value(json_object_get(out, "status")), "error");
	assert_non_null(strstr(json_string_value(json_object_get(out, "error")), "mountinfo"));
	json_decref(out);
}

static void test_helpers(void **st)
{
	uint64_t d;
	struct probe_disk_mounts m;
	size_t bad;
	(void)st;

	assert_true(probe_disk_counter_delta(10, 15, &d) && d == 5);
	assert_true(probe_disk_counter_delta(4294967290u, 4, &d) && d == 10);
	assert_false(probe_disk_counter_delta(1000000, 10, &d));
	assert_false(probe_disk_counter_delta(5000000000ull, 10, &d));
	assert_true(probe_disk_partition_of("sda", "sda12"));
	assert_true(probe_disk_partition_of("nvme0n1", "nvme0n1p3"));
	assert_true(probe_disk_partition_of("mmcblk0", "mmcblk0p1"));
	assert_false(probe_disk_partition_of("sda", "sdab"));
	assert_false(probe_disk_partition_of("nvme0n1", "nvme0n12x"));
	assert_false(probe_disk_partition_of("sda", "sda"));
	assert_true(probe_disk_has_option("rw,errors=remount-ro", "errors=remount-ro"));
	assert_false(probe_disk_has_option("rw,errors=remount-ro", "ro"));
	assert_true(probe_disk_has_option("ro", "ro"));
	assert_true(probe_disk_fstype_pseudo("overlay", "/var/lib/docker/x/merged"));
	assert_false(probe_disk_fstype_pseudo("overlay", "/"));
	assert_false(probe_disk_fstype_pseudo("ext4", "/"));
	assert_true(probe_disk_fstype_network("nfs4"));

	assert_int_equal(
		probe_disk_mounts_parse("1 0 8:1 / /a\\040b\\011c rw - ext4 /dev/x\\134y ro\n"
					"2 1 8:2 / /short rw\n"
					"3 1 8:3 / /no/dash rw shared:1 ext4 /dev/z rw\n"
					"4 1 x:3 / /bad/major rw - ext4 /dev/z rw\n",
					&m, &bad),
		0);
	assert_int_equal(m.n, 1);
	assert_int_equal(bad, 3);
	assert_string_equal(m.v[0].mount_point, "/a b\tc");
	assert_string_equal(m.v[0].source, "/dev/x\\y");
	assert_true(m.v[0].sb_ro);
	assert_false(m.v[0].mnt_ro);
	probe_disk_mounts_free(&m);
}

static void test_config_errors(void **st)
{
	struct ep_config *cfg = NULL;
	struct probe_disk_ctx *ctx = NULL;
	char err[512] = "";
	const char *text = "[disk]\nusage_warning = 96\nusage_critical = 90\n";
	(void)st;

	assert_int_equal(
		ep_config_load_string(text, strlen(text), "t.conf", &cfg, err, sizeof(err)), 0);
	const struct ep_config_section *s = ep_config_find(cfg, "disk");
	assert_int_equal(ep_config_check(s, probe_disk_options, err, sizeof(err)), 0);
	assert_int_equal(probe_disk_ctx_new(s, "/", &ctx, err, sizeof(err)), -EINVAL);
	assert_null(ctx);
	assert_non_null(strstr(err, "critical"));
	ep_config_free(cfg);

	text = "[disk]\nusage_warning = 101\n";
	assert_int_equal(
		ep_config_load_string(text, strlen(text), "t.conf", &cfg, err, sizeof(err)), 0);
	assert_int_equal(
		ep_config_check(ep_config_find(cfg, "disk"), probe_disk_options, err, sizeof(err)),
		-EINVAL);
	ep_config_free(cfg);
}

/* The production statvfs path, including the helper thread used for network
 * filesystems, on this machine's real root. */
static void test_real_statfs(void **st)
{
	struct probe_disk_ctx *ctx = NULL;
	struct probe_disk_fsstat a = {0}, b = {0};
	struct statvfs sv;
	char err[256];
	(void)st;

	assert_int_equal(probe_disk_ctx_new(NULL, "/", &ctx, err, sizeof(err)), 0);
	assert_int_equal(ctx->statfs(ctx->statfs_arg, "/", "ext4", 1000, &a), 0);
	assert_int_equal(ctx->statfs(ctx->statfs_arg, "/", "nfs4", 1000, &b), 0);
	assert_int_equal(statvfs("/", &sv), 0);
	assert_true(a.bytes_total == (uint64_t)sv.f_blocks * sv.f_frsize);
	assert_true(b.bytes_total == a.bytes_total);
	assert_true(b.inodes_total == a.inodes_total);
	assert_int_equal(ctx->statfs(ctx->statfs_arg, "/nonexistent/x", "nfs4", 1000, &b), -ENOENT);
	probe_disk_ctx_free(ctx);
}

/* A deadline that has already passed: nothing measured, status error. */
static void test_deadline(void **st)
{
	struct probe_disk_ctx *ctx = NULL;
	struct ep_probe_result r = {.status = EP_STATUS_OK};
	char err[256];
	(void)st;

	assert_int_equal(probe_disk_ctx_new(NULL, "/", &ctx, err, sizeof(err)), 0);
	r.metrics = json_object();
	r.findings = json_array();
	r.state = json_object();
	struct ep_deadline d = {.at_ms = ep_mono_ms() - 1};
	probe_disk_measure(ctx, &d, &r);
	assert_int_equal(r.status, EP_STATUS_ERROR);
	assert_non_null(strstr(r.error, "deadline"));
	json_decref(r.metrics);
	json_decref(r.findings);
	json_decref(r.state);
	probe_disk_ctx_free(ctx);
}

/* The registered probe: enabled by default, runs on this host. */
static void test_registry_live(void **st)
{
	const struct ep_probe *p = ep_probe_lookup("disk");
	struct ep_probe_env env = {.root = "/", .state_dir = "/nonexistent"};
	struct ep_probe_result r = {.status = EP_STATUS_OK};
	void *ctx = NULL;
	char err[256];
	(void)st;

	assert_non_null(p);
	assert_int_equal(p->enabled_by_default, 1);
	assert_int_equal(p->init(NULL, &env, &ctx, err, sizeof(err)), 0);
	struct ep_deadline d = ep_deadline_in(10000);
	assert_int_equal(p->check(ctx, &d, err, sizeof(err)), 0);
	r.metrics = json_object();
	r.findings = json_array();
	r.state = json_object();
	p->run(ctx, &d, &r);
	p->fini(ctx);
	assert_int_equal(r.status, EP_STATUS_OK);
	json_t *root = json_object_get(json_object_get(r.metrics, "filesystems"), "/");
	assert_non_null(root);
	assert_true(num(root, "bytes_total") > 0);
	json_decref(r.metrics);
	json_decref(r.findings);
	json_decref(r.state);
}

static int const_statfs(void *arg, const char *path, const char *fstype, int64_t timeout_ms,
			struct probe_disk_fsstat *ret)
{
	(void)arg;
	(void)path;
	(void)fstype;
	(void)timeout_ms;
	*ret = (struct probe_disk_fsstat){1000000, 500000, 400000, 1000, 500, 500};
	return 0;
}

/* A Kubernetes-sized mount table: 600 filesystems, one of them bound 20
 * times. The report stays bounded; no state object is tolerated. */
static void test_limits(void **st)
{
	char root[] = "/tmp/erpulse-disk-test.XXXXXX", path[256], err[256];
	struct probe_disk_ctx *ctx = NULL;
	struct ep_probe_result r = {.status = EP_STATUS_OK};
	struct ep_buf b;
	(void)st;

	assert_non_null(mkdtemp(root));
	ep_buf_init(&b, 1 << 20);
	for (int i = 0; i < 600; i++)
		assert_int_equal(ep_buf_printf(&b, "%d 1 8:%d / /m/%d rw - ext4 /dev/x%d rw\n",
					       i + 2, i, i, i),
				 0);
	for (int i = 0; i < 20; i++)
		assert_int_equal(ep_buf_printf(&b, "%d 1 8:0 /sub /b/%d rw - ext4 /dev/x0 rw\n",
					       i + 1000, i),
				 0);
	snprintf(path, sizeof(path), "%s/proc/self", root);
	assert_int_equal(ep_mkdir_p(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/proc/self/mountinfo", root);
	assert_int_equal(ep_atomic_write(path, b.data, b.len, 0644), 0);
	ep_buf_free(&b);
	snprintf(path, sizeof(path), "%s/proc/diskstats", root);
	const char *ds = "   8       0 sda 10 0 80 5 10 0 80 5 0 9 10\n";
	assert_int_equal(ep_atomic_write(path, ds, strlen(ds), 0644), 0);

	assert_int_equal(probe_disk_ctx_new(NULL, root, &ctx, err, sizeof(err)), 0);
	ctx->statfs = const_statfs;
	r.metrics = json_object();
	r.findings = json_array();
	r.state = NULL;
	struct ep_deadline d = ep_deadline_in(10000);
	probe_disk_measure(ctx, &d, &r);
	assert_int_equal(r.status, EP_STATUS_OK);
	json_t *fss = json_object_get(r.metrics, "filesystems");
	assert_int_equal(json_object_size(fss), PROBE_DISK_MAX_REPORTED);
	assert_true(num(r.metrics, "filesystems_omitted") == 600 - PROBE_DISK_MAX_REPORTED);
	json_t *m0 = json_object_get(fss, "/m/0");
	assert_true(num(m0, "also_mounted_count") == 20);
	assert_int_equal(json_array_size(json_object_get(m0, "also_mounted_at")),
			 PROBE_DISK_MAX_ALSO);
	assert_string_equal(json_string_value(json_object_get(r.metrics, "io_status")),
			    "first_sample");
	json_decref(r.metrics);
	json_decref(r.findings);
	probe_disk_ctx_free(ctx);
	snprintf(path, sizeof(path), "%s/proc/self/mountinfo", root);
	unlink(path);
	snprintf(path, sizeof(path), "%s/proc/diskstats", root);
	unlink(path);
	snprintf(path, sizeof(path), "%s/proc/self", root);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/proc", root);
	rmdir(path);
	rmdir(root);
}

/* The three parsers on 20,000 garbage inputs built from the characters that
 * matter to them (deterministic, so a failure reproduces); under ASan in
 * `make check`. Every input must parse or be skipped, never crash. */
static void test_parsers_garbage(void **st)
{
	static const char alphabet[] = "0123456789  ::--//\\\\\n\nrowx_.,=abcdefghijklmnop\t";
	uint32_t seed = 12345;
	char text[600];
	(void)st;

	for (int iter = 0; iter < 20000; iter++) {
		size_t len = 0, want;
		seed = seed * 1103515245u + 12345u;
		want = (seed >> 16) % (sizeof(text) - 1);
		/* half the inputs start from a valid line, mutated */
		if (iter % 2) {
			const char *base =
				"36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root "
				"rw,errors=continue\n   8 0 sda 1 2 3 4 5 6 7 8 9 10 11\n";
			len = strlen(base) < want ? strlen(base) : want;
			memcpy(text, base, len);
			for (int k = 0; k < 3 && len > 0; k++) {
				seed = seed * 1103515245u + 12345u;
				text[(seed >> 16) % len] =
					alphabet[(seed >> 8) % (sizeof(alphabet) - 1)];
			}
		}
		while (len < want) {
			seed = seed * 1103515245u + 12345u;
			text[len++] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
		}
		text[len] = '\0';

		struct probe_disk_mounts m;
		size_t bad = 0;
		assert_int_equal(probe_disk_mounts_parse(text, &m, &bad), 0);
		for (size_t i = 0; i < m.n; i++) {
			assert_non_null(m.v[i].mount_point);
			assert_non_null(m.v[i].fstype);
		}
		probe_disk_mounts_free(&m);

		struct probe_disk_fstab f;
		assert_int_equal(probe_disk_fstab_parse(text, &f), 0);
		(void)probe_disk_fstab_options(&f, "/");
		probe_disk_fstab_free(&f);

		struct probe_disk_iocounters *v = NULL;
		size_t n = 0;
		assert_int_equal(probe_disk_diskstats_parse(text, &v, &n), 0);
		for (size_t i = 0; i < n; i++)
			(void)probe_disk_is_partition(v, n, v[i].name);
		free(v);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_helpers),         cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_basic),           cmocka_unit_test(test_readonly),
		cmocka_unit_test(test_iostat),          cmocka_unit_test(test_rebooted),
		cmocka_unit_test(test_options),         cmocka_unit_test(test_no_mountinfo),
		cmocka_unit_test(test_real_statfs),     cmocka_unit_test(test_deadline),
		cmocka_unit_test(test_registry_live),   cmocka_unit_test(test_limits),
		cmocka_unit_test(test_parsers_garbage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
