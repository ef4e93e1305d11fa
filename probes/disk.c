/* The disk probe: space and inodes of every real filesystem, filesystems the
 * kernel made read-only, and per-device I/O latency and utilisation from
 * /proc/diskstats deltas between cycles. Rules and metric names:
 * docs/probes-disk.md. */
#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "erpulse/probe.h"
#include "probes/disk/disk.h"

const struct ep_option probe_disk_options[] = {
	{"exclude_mounts", EP_OPT_LIST, NULL, 0, 0,
	 "mount points to leave out, shell patterns (\"/mnt/backup /var/lib/docker/*\")"},
	{"exclude_fstypes", EP_OPT_LIST, NULL, 0, 0,
	 "filesystem types to leave out, in addition to the built-in pseudo filesystems"},
	{"include_fstypes", EP_OPT_LIST, NULL, 0, 0,
	 "built-in skipped types to measure anyway, e.g. \"tmpfs\" for /dev/shm"},
	{"exclude_devices", EP_OPT_LIST, "loop* ram* zram* sr* fd* nbd*", 0, 0,
	 "block devices (names in /proc/diskstats, shell patterns) left out of I/O figures"},
	{"usage_warning", EP_OPT_INT, "85", 1, 100, "disk_usage warning at this % used"},
	{"usage_critical", EP_OPT_INT, "95", 1, 100, "disk_usage critical at this % used"},
	{"inode_warning", EP_OPT_INT, "85", 1, 100, "inode_usage warning at this % used"},
	{"inode_critical", EP_OPT_INT, "95", 1, 100, "inode_usage critical at this % used"},
	{"latency_warning_ms", EP_OPT_INT, "50", 1, 600000,
	 "disk_latency warning when a device's average I/O latency over the interval reaches this"},
	{"latency_critical_ms", EP_OPT_INT, "200", 1, 600000, "disk_latency critical threshold"},
	{"latency_min_ios", EP_OPT_INT, "100", 0, INT64_MAX,
	 "no latency verdict on a device that did fewer I/Os than this in the interval"},
	{"statfs_timeout", EP_OPT_DURATION, "5", 1, 300,
	 "seconds a network filesystem (NFS, CIFS, ...) may take to answer statvfs"},
	{"io", EP_OPT_BOOL, "yes", 0, 0, "measure per-device I/O from /proc/diskstats"},
	{NULL, 0, NULL, 0, 0, NULL},
};

/* ---- context ------------------------------------------------------------- */

void probe_disk_ctx_free(struct probe_disk_ctx *ctx)
{
	if (!ctx)
		return;
	free(ctx->root);
	free(ctx->exclude_mounts);
	free(ctx->exclude_fstypes);
	free(ctx->include_fstypes);
	free(ctx->exclude_devices);
	free(ctx);
}

static int get_list(const struct ep_config_section *s, const char *key, char ***ret, char *err,
		    size_t errlen)
{
	int rc = ep_config_get_list(s, probe_disk_options, key, ret, err, errlen);
	if (rc == -ENOENT) {
		*ret = NULL;
		return 0;
	}
	return rc;
}

int probe_disk_ctx_new(const struct ep_config_section *s, const char *root,
		       struct probe_disk_ctx **ret, char *err, size_t errlen)
{
	struct probe_disk_ctx *c = calloc(1, sizeof(*c));
	int64_t t;
	bool io = true;
	int rc;

	if (!c)
		return -ENOMEM;
	c->root = strdup(root && *root ? root : "/");
	if (!c->root) {
		rc = -ENOMEM;
		goto fail;
	}
	if ((rc = get_list(s, "exclude_mounts", &c->exclude_mounts, err, errlen)) < 0 ||
	    (rc = get_list(s, "exclude_fstypes", &c->exclude_fstypes, err, errlen)) < 0 ||
	    (rc = get_list(s, "include_fstypes", &c->include_fstypes, err, errlen)) < 0 ||
	    (rc = get_list(s, "exclude_devices", &c->exclude_devices, err, errlen)) < 0)
		goto fail;
	struct {
		const char *key;
		int64_t *dst;
	} ints[] = {
		{"usage_warning", &c->usage_warning},
		{"usage_critical", &c->usage_critical},
		{"inode_warning", &c->inode_warning},
		{"inode_critical", &c->inode_critical},
		{"latency_warning_ms", &c->latency_warning_ms},
		{"latency_critical_ms", &c->latency_critical_ms},
		{"latency_min_ios", &c->latency_min_ios},
	};
	for (size_t i = 0; i < EP_ARRAY_SIZE(ints); i++)
		if ((rc = ep_config_get_int(s, probe_disk_options, ints[i].key, ints[i].dst, err,
					    errlen)) < 0)
			goto fail;
	if ((rc = ep_config_get_duration(s, probe_disk_options, "statfs_timeout", &t, err,
					 errlen)) < 0 ||
	    (rc = ep_config_get_bool(s, probe_disk_options, "io", &io, err, errlen)) < 0)
		goto fail;
	c->statfs_timeout_ms = t * 1000;
	c->io = io;
	const char *where = s ? s->name : "disk";
	if (c->usage_warning > c->usage_critical || c->inode_warning > c->inode_critical ||
	    c->latency_warning_ms > c->latency_critical_ms) {
		snprintf(err, errlen,
			 "[%s]: a warning threshold is above its critical threshold (make "
			 "*_warning <= *_critical)",
			 where);
		rc = -EINVAL;
		goto fail;
	}
	c->statfs = probe_disk_real_statfs;
	c->clock_ms = ep_mono_ms;
	*ret = c;
	return 0;
fail:
	if (rc == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	probe_disk_ctx_free(c);
	return rc;
}

/* ---- measuring ----------------------------------------------------------- */

static int path_under_root(const char *root, const char *path, char *buf, size_t size)
{
	if (strcmp(root, "/") == 0)
		return ep_snprintf(buf, size, "%s", path);
	size_t rl = strlen(root);
	while (rl > 1 && root[rl - 1] == '/')
		rl--;
	return ep_snprintf(buf, size, "%.*s%s", (int)rl, root, path);
}

static bool in_list(char **list, const char *s)
{
	for (size_t i = 0; list && list[i]; i++)
		if (strcmp(list[i], s) == 0)
			return true;
	return false;
}

bool probe_disk_matches(char **patterns, const char *s)
{
	for (size_t i = 0; patterns && patterns[i]; i++)
		if (fnmatch(patterns[i], s, 0) == 0)
			return true;
	return false;
}

static double pct(uint64_t part, uint64_t whole)
{
	if (whole == 0)
		return 0;
	return round(1000.0 * (double)part / (double)whole) / 10.0;
}

double probe_disk_round1(double x)
{
	return round(x * 10.0) / 10.0;
}

static void human_bytes(uint64_t b, char *buf, size_t size)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	double v = (double)b;
	size_t u = 0;

	while (v >= 1024 && u + 1 < EP_ARRAY_SIZE(units)) {
		v /= 1024;
		u++;
	}
	snprintf(buf, size, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
}

int probe_disk_add_finding(struct ep_probe_result *r, const struct ep_finding *f, json_t *extra)
{
	json_t *j = ep_finding_json(f);
	if (!j) {
		json_decref(extra);
		return -ENOMEM;
	}
	if (extra && json_object_update(j, extra) < 0) {
		json_decref(extra);
		json_decref(j);
		return -ENOMEM;
	}
	json_decref(extra);
	return json_array_append_new(r->findings, j) < 0 ? -ENOMEM : 0;
}

enum ep_severity probe_disk_level(double v, int64_t warn, int64_t crit)
{
	if (v >= (double)crit)
		return EP_SEV_CRITICAL;
	return v >= (double)warn ? EP_SEV_WARNING : EP_SEV_INFO;
}

/* The read-only rule (docs/probes-disk.md, "Read-only filesystems").
 * Returns a reason when the filesystem should be writable but is not. */
static const char *readonly_reason(const struct probe_disk_mount *m, const char *fstab_opts)
{
	if (m->sb_emergency_ro)
		return "the kernel made the filesystem read-only after an error (ext4 "
		       "emergency_ro, "
		       "errors=remount-ro)";
	if (!m->sb_ro)
		return NULL;
	if (!m->mnt_ro)
		return "the kernel made the filesystem read-only under a read-write mount "
		       "(errors=remount-ro after an I/O or filesystem error)";
	if (fstab_opts && !probe_disk_has_option(fstab_opts, "ro"))
		return m->sb_errors_remount_ro ||
				       probe_disk_has_option(fstab_opts, "errors=remount-ro")
			       ? "read-only although /etc/fstab mounts it read-write; "
				 "errors=remount-ro is set, so most likely after an I/O or "
				 "filesystem error"
			       : "read-only although /etc/fstab mounts it read-write";
	return NULL;
}

/* ext2/3/4 keep a count of the errors they met in the superblock, exported
 * as /sys/fs/ext4/<dev>/errors_count: errors a filesystem mounted with
 * errors=continue would otherwise hide until fsck. */
static int ext_errors(struct probe_disk_ctx *ctx, const struct probe_disk_mount *m, json_t *o,
		      struct ep_probe_result *r)
{
	char rel[128], link[4096], target[4096], *text = NULL, msg[512];
	int64_t count;

	if (strcmp(m->fstype, "ext4") != 0 && strcmp(m->fstype, "ext3") != 0 &&
	    strcmp(m->fstype, "ext2") != 0)
		return 0;
	snprintf(rel, sizeof(rel), "/sys/dev/block/%u:%u", m->major, m->minor);
	if (path_under_root(ctx->root, rel, link, sizeof(link)) < 0)
		return 0;
	ssize_t n = readlink(link, target, sizeof(target) - 1);
	if (n <= 0)
		return 0;
	target[n] = '\0';
	const char *dev = strrchr(target, '/');
	dev = dev ? dev + 1 : target;
	if (!*dev || strchr(dev, '.'))
		return 0;
	snprintf(rel, sizeof(rel), "/sys/fs/ext4/%.64s/errors_count", dev);
	if (probe_disk_read_under_root(ctx->root, rel, &text) < 0)
		return 0;
	size_t l = strlen(text);
	while (l > 0 && (text[l - 1] == '\n' || text[l - 1] == ' '))
		text[--l] = '\0';
	int rc = ep_parse_int64(text, 0, INT64_MAX, &count);
	free(text);
	if (rc < 0)
		return 0;
	if (json_object_set_new(o, "fs_errors", json_integer(count)) < 0)
		return -ENOMEM;
	if (count == 0)
		return 0;
	snprintf(msg, sizeof(msg),
		 "%s (%s) has recorded %lld filesystem error%s in its superblock since the last "
		 "fsck",
		 m->mount_point, m->source, (long long)count, count == 1 ? "" : "s");
	char fix[512];
	snprintf(fix, sizeof(fix),
		 "Read the kernel log (journalctl -k | grep -i 'EXT4-fs error'), check the disk "
		 "(smartctl -a) and run fsck -f on %s in a maintenance window.",
		 m->source);
	struct ep_finding f = {
		.kind = "filesystem_errors",
		.object = m->mount_point,
		.value = (double)count,
		.unit = "count",
		.threshold = 0,
		.severity = EP_SEV_WARNING,
		.method = "sysfs",
		.message = msg,
		.remediation = fix,
	};
	return probe_disk_add_finding(r, &f, json_pack("{s:s}", "device", dev));
}

/* One disk_usage / inode_usage finding with its <what>_avail and
 * <what>_total figures; the remediation only above the info level. */
static int usage_finding(struct ep_probe_result *r, const char *kind, const char *mount,
			 double value, int64_t warn, int64_t crit, const char *msg, const char *fix,
			 const char *what, uint64_t avail, uint64_t total)
{
	char k_avail[32], k_total[32];
	snprintf(k_avail, sizeof(k_avail), "%s_avail", what);
	snprintf(k_total, sizeof(k_total), "%s_total", what);
	struct ep_finding f = {
		.kind = kind,
		.object = mount,
		.value = value,
		.unit = "%",
		.threshold = (double)warn,
		.critical_threshold = (double)crit,
		.severity = probe_disk_level(value, warn, crit),
		.method = "statvfs",
		.message = msg,
		.remediation = value >= (double)warn ? fix : NULL,
	};
	return probe_disk_add_finding(
		r, &f,
		json_pack("{s:I, s:I}", k_avail, (json_int_t)avail, k_total, (json_int_t)total));
}

static int measure_fs(struct probe_disk_ctx *ctx, const struct ep_deadline *deadline,
		      const struct probe_disk_mount *m, const struct probe_disk_fstab *fstab,
		      json_t *fs_obj, struct ep_probe_result *r, bool *ret_ok)
{
	char path[4096], dev[32], msg[512], a[32], b[32];
	struct probe_disk_fsstat st = {0};
	int rc;

	*ret_ok = false;
	snprintf(dev, sizeof(dev), "%u:%u", m->major, m->minor);
	json_t *o = json_object();
	if (!o || json_object_set_new(fs_obj, m->mount_point, o) < 0)
		return -ENOMEM;
	if (json_object_set_new(o, "device", json_string(m->source)) < 0 ||
	    json_object_set_new(o, "fstype", json_string(m->fstype)) < 0 ||
	    json_object_set_new(o, "major_minor", json_string(dev)) < 0 ||
	    json_object_set_new(o, "readonly", json_boolean(m->sb_ro || m->sb_emergency_ro)) < 0)
		return -ENOMEM;
	if ((rc = ext_errors(ctx, m, o, r)) < 0)
		return rc;
	if (m->n_also) {
		/* A Kubernetes node binds the root device hundreds of times:
		 * name a few, count them all. */
		json_t *also = json_array();
		if (!also || json_object_set_new(o, "also_mounted_at", also) < 0 ||
		    json_object_set_new(o, "also_mounted_count",
					json_integer((json_int_t)m->n_also)) < 0)
			return -ENOMEM;
		for (size_t i = 0; i < m->n_also && i < PROBE_DISK_MAX_ALSO; i++)
			if (json_array_append_new(also, json_string(m->also[i])) < 0)
				return -ENOMEM;
	}

	const char *why = readonly_reason(m, probe_disk_fstab_options(fstab, m->mount_point));
	if (why) {
		snprintf(msg, sizeof(msg), "%s (%s) is read-only: %s", m->mount_point, m->source,
			 why);
		char fix[512];
		snprintf(fix, sizeof(fix),
			 "Read the kernel log (journalctl -k | grep -iE 'error|remount'), run fsck "
			 "on %s in a maintenance window, check the disk's health (smartctl -a), "
			 "then mount %s read-write again.",
			 m->source, m->mount_point);
		struct ep_finding f = {
			.kind = "filesystem_readonly",
			.object = m->mount_point,
			.value = 1,
			.unit = "bool",
			.threshold = NAN,
			.severity = EP_SEV_CRITICAL,
			.method = "mountinfo",
			.message = msg,
			.remediation = fix,
		};
		if ((rc = probe_disk_add_finding(r, &f, json_pack("{s:s}", "device", m->source))) <
		    0)
			return rc;
	}

	if (path_under_root(ctx->root, m->mount_point, path, sizeof(path)) < 0)
		return json_object_set_new(o, "error", json_string("path too long")) < 0 ? -ENOMEM
											 : 0;
	int64_t left = ep_deadline_left_ms(deadline);
	int64_t timeout = left < ctx->statfs_timeout_ms ? left : ctx->statfs_timeout_ms;
	rc = ctx->statfs(ctx->statfs_arg, path, m->fstype, timeout, &st);
	if (rc == -ENOMEM)
		return rc;
	if (rc < 0) {
		if (rc == -ETIMEDOUT)
			snprintf(msg, sizeof(msg), "statvfs did not answer within %lld ms",
				 (long long)timeout);
		else
			snprintf(msg, sizeof(msg), "statvfs: %s", strerror(-rc));
		if (json_object_set_new(o, "error", json_string(msg)) < 0)
			return -ENOMEM;
		if (rc == -ETIMEDOUT || rc == -EIO || rc == -ESTALE || rc == -ENOTCONN ||
		    rc == -EHOSTDOWN) {
			char m2[600];
			snprintf(m2, sizeof(m2), "%s (%s, %s): %s", m->mount_point, m->fstype,
				 m->source, msg);
			struct ep_finding f = {
				.kind = "filesystem_unavailable",
				.object = m->mount_point,
				.value = 1,
				.unit = "bool",
				.threshold = NAN,
				.severity = EP_SEV_CRITICAL,
				.method = "statvfs",
				.message = m2,
				.remediation = "Network filesystem: check the server and the "
					       "network path to it (processes using the mount hang "
					       "too). Local: read the kernel log for I/O errors "
					       "(journalctl -k) and check the disk.",
			};
			if ((rc = probe_disk_add_finding(r, &f, NULL)) < 0)
				return rc;
		}
		return 0;
	}
	*ret_ok = true;

	/* df's figures: used = total - free; Use% = used / (used + avail), the
	 * share of what unprivileged writers can ever have (root's reserve is
	 * not counted as room). */
	uint64_t used =
		st.bytes_total - (st.bytes_free < st.bytes_total ? st.bytes_free : st.bytes_total);
	uint64_t iused = st.inodes_total -
			 (st.inodes_free < st.inodes_total ? st.inodes_free : st.inodes_total);
	double usage = pct(used, used + st.bytes_avail);
	if (json_object_set_new(o, "bytes_total", json_integer((json_int_t)st.bytes_total)) < 0 ||
	    json_object_set_new(o, "bytes_used", json_integer((json_int_t)used)) < 0 ||
	    json_object_set_new(o, "bytes_avail", json_integer((json_int_t)st.bytes_avail)) < 0 ||
	    json_object_set_new(o, "inodes_total", json_integer((json_int_t)st.inodes_total)) < 0 ||
	    json_object_set_new(o, "inodes_used", json_integer((json_int_t)iused)) < 0 ||
	    json_object_set_new(o, "inodes_avail", json_integer((json_int_t)st.inodes_avail)) < 0 ||
	    json_object_set_new(o, "usage_pct", json_real(usage)) < 0)
		return -ENOMEM;

	/* btrfs, vfat and some network filesystems have no inode table. */
	bool has_inodes = st.inodes_total > 0;
	double iusage = has_inodes ? pct(iused, iused + st.inodes_avail) : 0;
	if (json_object_set_new(o, "inode_usage_pct",
				has_inodes ? json_real(iusage) : json_null()) < 0)
		return -ENOMEM;

	/* Every filesystem gets its usage findings, info below the warning
	 * line: the collector forecasts days-to-full from these series, and a
	 * disk filling fast at 40% is exactly what it must see early. */
	char fix[512];
	human_bytes(st.bytes_avail, a, sizeof(a));
	human_bytes(st.bytes_total, b, sizeof(b));
	snprintf(msg, sizeof(msg), "%s is %.1f%% full: %s available of %s", m->mount_point, usage,
		 a, b);
	snprintf(fix, sizeof(fix),
		 "Free space on %s (old logs, dumps, backups: du -xh --max-depth=2 %s | sort -h | "
		 "tail) or grow the filesystem; the collector's forecast shows when it fills.",
		 m->mount_point, m->mount_point);
	rc = usage_finding(r, "disk_usage", m->mount_point, usage, ctx->usage_warning,
			   ctx->usage_critical, msg, fix, "bytes", st.bytes_avail, st.bytes_total);
	if (rc < 0 || !has_inodes)
		return rc;
	snprintf(msg, sizeof(msg), "%s has used %.1f%% of its inodes: %llu of %llu left",
		 m->mount_point, iusage, (unsigned long long)st.inodes_avail,
		 (unsigned long long)(iused + st.inodes_avail));
	snprintf(fix, sizeof(fix),
		 "Find the directories full of small files (session files, mail queues, cache: "
		 "find %s -xdev -type f | cut -d/ -f2-4 | sort | uniq -c | sort -n | tail) and "
		 "clean them up; new files cannot be created when inodes run out.",
		 m->mount_point);
	return usage_finding(r, "inode_usage", m->mount_point, iusage, ctx->inode_warning,
			     ctx->inode_critical, msg, fix, "inodes", st.inodes_avail,
			     st.inodes_total);
}

/* Picks the mounts to measure: real filesystems, not excluded, each
 * filesystem (major:minor) once. Returns indexes into m->v. */
static int select_mounts(struct probe_disk_ctx *ctx, struct probe_disk_mounts *m, size_t **ret_idx,
			 size_t *ret_n)
{
	size_t *idx = calloc(m->n ? m->n : 1, sizeof(*idx));
	size_t n = 0;

	if (!idx)
		return -ENOMEM;
	for (size_t i = 0; i < m->n; i++) {
		struct probe_disk_mount *mi = &m->v[i];
		if (mi->shadowed)
			continue;
		if (probe_disk_fstype_pseudo(mi->fstype, mi->mount_point) &&
		    !in_list(ctx->include_fstypes, mi->fstype))
			continue;
		if (in_list(ctx->exclude_fstypes, mi->fstype) ||
		    probe_disk_matches(ctx->exclude_mounts, mi->mount_point))
			continue;
		size_t k;
		for (k = 0; k < n; k++)
			if (m->v[idx[k]].major == mi->major && m->v[idx[k]].minor == mi->minor)
				break;
		if (k == n) {
			idx[n++] = i;
			continue;
		}
		/* Same filesystem again (bind mount, btrfs subvolume, PrivateTmp):
		 * keep the mount of its top directory, else the shortest path. */
		struct probe_disk_mount *keep = &m->v[idx[k]], *other = mi;
		bool better = (strcmp(mi->root, "/") == 0 && strcmp(keep->root, "/") != 0) ||
			      ((strcmp(mi->root, "/") == 0) == (strcmp(keep->root, "/") == 0) &&
			       strlen(mi->mount_point) < strlen(keep->mount_point));
		if (better) {
			other = keep;
			keep = mi;
			/* the kept mount inherits the other's list */
			keep->also = other->also;
			keep->n_also = other->n_also;
			other->also = NULL;
			other->n_also = 0;
			idx[k] = i;
		}
		char **na = realloc(keep->also, (keep->n_also + 2) * sizeof(*na));
		if (!na)
			goto nomem;
		keep->also = na;
		if (!(na[keep->n_also] = strdup(other->mount_point)))
			goto nomem;
		na[++keep->n_also] = NULL;
	}
	*ret_idx = idx;
	*ret_n = n;
	return 0;
nomem:
	free(idx);
	return -ENOMEM;
}

int probe_disk_read_under_root(const char *root, const char *rel, char **ret)
{
	char path[4096];
	size_t len;

	if (path_under_root(root, rel, path, sizeof(path)) < 0)
		return -ENAMETOOLONG;
	return ep_read_file(path, PROBE_DISK_MAX_FILE, ret, &len);
}

void probe_disk_measure(struct probe_disk_ctx *ctx, const struct ep_deadline *deadline,
			struct ep_probe_result *r)
{
	struct probe_disk_mounts mounts = {0};
	struct probe_disk_fstab fstab = {0};
	char *text = NULL;
	size_t *idx = NULL, n = 0, bad = 0, ok_count = 0, done = 0;
	int rc;

	snprintf(r->target, sizeof(r->target), "%s", ctx->root);
	rc = probe_disk_read_under_root(ctx->root, "/proc/self/mountinfo", &text);
	if (rc < 0) {
		if (strcmp(ctx->root, "/") == 0)
			ep_probe_fail(r, EP_STATUS_ERROR, "cannot read /proc/self/mountinfo: %s",
				      strerror(-rc));
		else
			ep_probe_fail(r, EP_STATUS_ERROR,
				      "cannot read /proc/self/mountinfo (below root %s): %s",
				      ctx->root, strerror(-rc));
		goto out;
	}
	if ((rc = probe_disk_mounts_parse(text, &mounts, &bad)) < 0)
		goto nomem;
	free(text);
	text = NULL;
	/* fstab is optional: without it only the kernel's own signal counts. */
	if (probe_disk_read_under_root(ctx->root, "/etc/fstab", &text) == 0 &&
	    probe_disk_fstab_parse(text, &fstab) < 0)
		goto nomem;
	if ((rc = select_mounts(ctx, &mounts, &idx, &n)) < 0)
		goto nomem;

	json_t *fs_obj = json_object();
	if (!fs_obj || json_object_set_new(r->metrics, "filesystems", fs_obj) < 0)
		goto nomem;
	if (n > PROBE_DISK_MAX_REPORTED) {
		if (json_object_set_new(r->metrics, "filesystems_omitted",
					json_integer((json_int_t)(n - PROBE_DISK_MAX_REPORTED))) <
		    0)
			goto nomem;
		n = PROBE_DISK_MAX_REPORTED;
	}
	for (; done < n; done++) {
		bool ok;
		if (ep_deadline_expired(deadline))
			break;
		if ((rc = measure_fs(ctx, deadline, &mounts.v[idx[done]], &fstab, fs_obj, r, &ok)) <
		    0)
			goto nomem;
		if (ok)
			ok_count++;
	}
	if (json_object_set_new(r->metrics, "filesystems_count", json_integer((json_int_t)n)) < 0 ||
	    json_object_set_new(r->metrics, "mounts_seen", json_integer((json_int_t)mounts.n)) <
		    0 ||
	    json_object_set_new(r->metrics, "mountinfo_bad_lines", json_integer((json_int_t)bad)) <
		    0)
		goto nomem;
	if (ctx->io && (rc = probe_disk_measure_io(ctx, &mounts, idx, n, r)) < 0)
		goto nomem;
	if (done < n)
		ep_probe_fail(r, EP_STATUS_ERROR,
			      "deadline reached after %zu of %zu filesystems (a hung mount? see "
			      "exclude_mounts)",
			      done, n);
	else if (n > 0 && ok_count == 0)
		ep_probe_fail(r, EP_STATUS_ERROR,
			      "statvfs failed on every filesystem (%zu); see metrics.filesystems.*"
			      ".error",
			      n);
	goto out;
nomem:
	ep_probe_fail(r, EP_STATUS_ERROR, "out of memory");
out:
	free(idx);
	free(text);
	probe_disk_fstab_free(&fstab);
	probe_disk_mounts_free(&mounts);
}

/* ---- the probe table -------------------------------------------------------- */

static int disk_init(const struct ep_config_section *section, const struct ep_probe_env *env,
		     void **ret_ctx, char *err, size_t errlen)
{
	struct probe_disk_ctx *c;
	int rc = probe_disk_ctx_new(section, env ? env->root : "/", &c, err, errlen);
	if (rc < 0)
		return rc;
	*ret_ctx = c;
	return 0;
}

static int disk_check(void *ctx, const struct ep_deadline *deadline, char *err, size_t errlen)
{
	struct probe_disk_ctx *c = ctx;
	char *text = NULL;
	(void)deadline;

	int rc = probe_disk_read_under_root(c->root, "/proc/self/mountinfo", &text);
	free(text);
	if (rc < 0)
		snprintf(err, errlen,
			 "disk: cannot read /proc/self/mountinfo: %s (is /proc mounted and "
			 "readable?)",
			 strerror(-rc));
	return rc < 0 ? rc : 0;
}

static void disk_run(void *ctx, const struct ep_deadline *deadline, struct ep_probe_result *r)
{
	probe_disk_measure(ctx, deadline, r);
}

static void disk_fini(void *ctx)
{
	probe_disk_ctx_free(ctx);
}

const struct ep_probe ep_probe_disk = {
	.name = "disk",
	.summary = "space, inodes and read-only state of every real filesystem; disk latency "
		   "and utilisation",
	.options = probe_disk_options,
	.enabled_by_default = 1,
	.init = disk_init,
	.check = disk_check,
	.run = disk_run,
	.fini = disk_fini,
};
