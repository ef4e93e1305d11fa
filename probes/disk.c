/* The disk probe: space and inodes of every real filesystem, filesystems the
 * kernel made read-only, and per-device I/O latency and utilisation from
 * /proc/diskstats deltas between cycles. Rules and metric names:
 * docs/probes-disk.md. */
#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
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

/* ---- statvfs, with a timeout for filesystems that can hang ---------------- */

static void fill_fsstat(const struct statvfs *sv, struct probe_disk_fsstat *st)
{
	uint64_t frsize = sv->f_frsize ? sv->f_frsize : sv->f_bsize;

	st->bytes_total = (uint64_t)sv->f_blocks * frsize;
	st->bytes_free = (uint64_t)sv->f_bfree * frsize;
	st->bytes_avail = (uint64_t)sv->f_bavail * frsize;
	st->inodes_total = sv->f_files;
	st->inodes_free = sv->f_ffree;
	st->inodes_avail = sv->f_favail;
}

/* Shared between the caller and a helper thread; the last one out frees it,
 * so a caller that gave up on a hung NFS server leaves nothing dangling. */
struct statfs_job {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int refs;
	bool done;
	int rc;
	struct probe_disk_fsstat st;
	char path[];
};

static void job_put(struct statfs_job *j)
{
	pthread_mutex_lock(&j->lock);
	bool last = --j->refs == 0;
	pthread_mutex_unlock(&j->lock);
	if (last) {
		pthread_cond_destroy(&j->cond);
		pthread_mutex_destroy(&j->lock);
		free(j);
	}
}

static void *statfs_thread(void *arg)
{
	struct statfs_job *j = arg;
	struct statvfs sv;
	struct probe_disk_fsstat st = {0};
	int rc = statvfs(j->path, &sv) < 0 ? -errno : 0;

	if (rc == 0)
		fill_fsstat(&sv, &st);
	pthread_mutex_lock(&j->lock);
	j->rc = rc;
	j->st = st;
	j->done = true;
	pthread_cond_signal(&j->cond);
	pthread_mutex_unlock(&j->lock);
	job_put(j);
	return NULL;
}

static int statfs_with_timeout(const char *path, int64_t timeout_ms, struct probe_disk_fsstat *ret)
{
	size_t len = strlen(path) + 1;
	struct statfs_job *j = calloc(1, sizeof(*j) + len);
	pthread_condattr_t ca;
	pthread_attr_t ta;
	pthread_t tid;
	struct timespec ts;
	int rc;

	if (!j)
		return -ENOMEM;
	memcpy(j->path, path, len);
	j->refs = 2;
	pthread_mutex_init(&j->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&j->cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_attr_init(&ta);
	pthread_attr_setdetachstate(&ta, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&ta, 64 * 1024);
	rc = pthread_create(&tid, &ta, statfs_thread, j);
	pthread_attr_destroy(&ta);
	if (rc != 0) {
		j->refs = 1;
		job_put(j);
		return -rc;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&j->lock);
	while (!j->done)
		if (pthread_cond_timedwait(&j->cond, &j->lock, &ts) == ETIMEDOUT)
			break;
	rc = j->done ? j->rc : -ETIMEDOUT;
	if (j->done && rc == 0)
		*ret = j->st;
	pthread_mutex_unlock(&j->lock);
	job_put(j);
	return rc;
}

/* Production statfs: local filesystems answer from memory, directly;
 * network ones go through a helper thread that may be abandoned. */
static int real_statfs(void *arg, const char *path, const char *fstype, int64_t timeout_ms,
		       struct probe_disk_fsstat *ret)
{
	struct statvfs sv;

	(void)arg;
	if (fstype && probe_disk_fstype_network(fstype))
		return statfs_with_timeout(path, timeout_ms, ret);
	if (statvfs(path, &sv) < 0)
		return -errno;
	fill_fsstat(&sv, ret);
	return 0;
}

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
	c->statfs = real_statfs;
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

static bool matches(char **patterns, const char *s)
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

static double round1(double x)
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

static int add_finding(struct ep_probe_result *r, const struct ep_finding *f, json_t *extra)
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

static enum ep_severity level(double v, int64_t warn, int64_t crit, double *ret_threshold)
{
	if (v >= (double)crit) {
		*ret_threshold = (double)crit;
		return EP_SEV_CRITICAL;
	}
	*ret_threshold = (double)warn;
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

static int read_under_root(const char *root, const char *rel, char **ret);

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
	if (read_under_root(ctx->root, rel, &text) < 0)
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
	return add_finding(r, &f, json_pack("{s:s}", "device", dev));
}

/* One disk_usage / inode_usage finding with its <what>_avail and
 * <what>_total figures; the remediation only above the info level. */
static int usage_finding(struct ep_probe_result *r, const char *kind, const char *mount,
			 double value, enum ep_severity sev, double thr, const char *msg,
			 const char *fix, const char *what, uint64_t avail, uint64_t total)
{
	char k_avail[32], k_total[32];
	snprintf(k_avail, sizeof(k_avail), "%s_avail", what);
	snprintf(k_total, sizeof(k_total), "%s_total", what);
	struct ep_finding f = {
		.kind = kind,
		.object = mount,
		.value = value,
		.unit = "%",
		.threshold = thr,
		.severity = sev,
		.method = "statvfs",
		.message = msg,
		.remediation = sev != EP_SEV_INFO ? fix : NULL,
	};
	return add_finding(
		r, &f,
		json_pack("{s:I, s:I}", k_avail, (json_int_t)avail, k_total, (json_int_t)total));
}

static int measure_fs(struct probe_disk_ctx *ctx, const struct ep_deadline *deadline,
		      const struct probe_disk_mount *m, const struct probe_disk_fstab *fstab,
		      json_t *fs_obj, struct ep_probe_result *r, bool *ret_ok)
{
	char path[4096], dev[32], msg[512], a[32], b[32];
	struct probe_disk_fsstat st = {0};
	double thr;
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
		if ((rc = add_finding(r, &f, json_pack("{s:s}", "device", m->source))) < 0)
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
			if ((rc = add_finding(r, &f, NULL)) < 0)
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
	enum ep_severity sev = level(usage, ctx->usage_warning, ctx->usage_critical, &thr);
	human_bytes(st.bytes_avail, a, sizeof(a));
	human_bytes(st.bytes_total, b, sizeof(b));
	snprintf(msg, sizeof(msg), "%s is %.1f%% full: %s available of %s", m->mount_point, usage,
		 a, b);
	snprintf(fix, sizeof(fix),
		 "Free space on %s (old logs, dumps, backups: du -xh --max-depth=2 %s | sort -h | "
		 "tail) or grow the filesystem; the collector's forecast shows when it fills.",
		 m->mount_point, m->mount_point);
	rc = usage_finding(r, "disk_usage", m->mount_point, usage, sev, thr, msg, fix, "bytes",
			   st.bytes_avail, st.bytes_total);
	if (rc < 0 || !has_inodes)
		return rc;
	sev = level(iusage, ctx->inode_warning, ctx->inode_critical, &thr);
	snprintf(msg, sizeof(msg), "%s has used %.1f%% of its inodes: %llu of %llu left",
		 m->mount_point, iusage, (unsigned long long)st.inodes_avail,
		 (unsigned long long)(iused + st.inodes_avail));
	snprintf(fix, sizeof(fix),
		 "Find the directories full of small files (session files, mail queues, cache: "
		 "find %s -xdev -type f | cut -d/ -f2-4 | sort | uniq -c | sort -n | tail) and "
		 "clean them up; new files cannot be created when inodes run out.",
		 m->mount_point);
	return usage_finding(r, "inode_usage", m->mount_point, iusage, sev, thr, msg, fix, "inodes",
			     st.inodes_avail, st.inodes_total);
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
		    matches(ctx->exclude_mounts, mi->mount_point))
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

static int read_under_root(const char *root, const char *rel, char **ret)
{
	char path[4096];
	size_t len;

	if (path_under_root(root, rel, path, sizeof(path)) < 0)
		return -ENAMETOOLONG;
	return ep_read_file(path, PROBE_DISK_MAX_FILE, ret, &len);
}

/* ---- I/O ------------------------------------------------------------------ */

#define N_COUNTERS 7

static void counters_of(const struct probe_disk_iocounters *c, uint64_t v[N_COUNTERS])
{
	v[0] = c->rd_ios;
	v[1] = c->rd_sectors;
	v[2] = c->rd_ticks;
	v[3] = c->wr_ios;
	v[4] = c->wr_sectors;
	v[5] = c->wr_ticks;
	v[6] = c->io_ticks;
}

static bool prev_counters(json_t *prev_devices, const char *name, uint64_t v[N_COUNTERS])
{
	json_t *a = json_object_get(prev_devices, name);
	if (!json_is_array(a) || json_array_size(a) != N_COUNTERS)
		return false;
	for (size_t i = 0; i < N_COUNTERS; i++) {
		json_t *x = json_array_get(a, i);
		if (!json_is_integer(x) || json_integer_value(x) < 0)
			return false;
		v[i] = (uint64_t)json_integer_value(x);
	}
	return true;
}

static void strip(char *s)
{
	size_t l = strlen(s);
	while (l > 0 && (s[l - 1] == '\n' || s[l - 1] == ' '))
		s[--l] = '\0';
}

/* Mount points of the measured filesystems on device dev or one of its
 * partitions. */
static json_t *mounts_on(const struct probe_disk_mounts *m, const size_t *idx, size_t n,
			 const struct probe_disk_iocounters *devs, size_t n_devs,
			 const struct probe_disk_iocounters *dev)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++) {
		const struct probe_disk_mount *mi = &m->v[idx[i]];
		bool on = mi->major == dev->major && mi->minor == dev->minor;
		for (size_t k = 0; !on && k < n_devs; k++)
			on = devs[k].major == mi->major && devs[k].minor == mi->minor &&
			     probe_disk_partition_of(dev->name, devs[k].name);
		if (on && json_array_append_new(a, json_string(mi->mount_point)) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static int measure_io(struct probe_disk_ctx *ctx, const struct probe_disk_mounts *mounts,
		      const size_t *idx, size_t n_idx, struct ep_probe_result *r)
{
	char *text = NULL, *boot = NULL, msg[512];
	struct probe_disk_iocounters *dev = NULL;
	size_t n_dev = 0;
	int rc;
	const char *status = "ok";

	json_t *devices = json_object();
	if (!devices || json_object_set_new(r->metrics, "devices", devices) < 0)
		return -ENOMEM;
	rc = read_under_root(ctx->root, "/proc/diskstats", &text);
	if (rc < 0) {
		snprintf(msg, sizeof(msg), "cannot read /proc/diskstats: %s", strerror(-rc));
		rc = json_object_set_new(r->metrics, "io_status", json_string("unavailable")) < 0 ||
				     json_object_set_new(r->metrics, "io_note", json_string(msg)) <
					     0
			     ? -ENOMEM
			     : 0;
		goto out;
	}
	if ((rc = probe_disk_diskstats_parse(text, &dev, &n_dev)) < 0)
		goto out;
	if (read_under_root(ctx->root, "/proc/sys/kernel/random/boot_id", &boot) == 0)
		strip(boot);

	int64_t now = ctx->clock_ms();
	json_t *prev = json_object_get(r->state, "io");
	json_t *prev_boot = json_object_get(prev, "boot_id");
	json_t *prev_at = json_object_get(prev, "at_ms");
	json_t *prev_devices = json_object_get(prev, "devices");
	double elapsed_s = 0;
	if (!json_is_object(prev) || !json_is_integer(prev_at) || !json_is_object(prev_devices)) {
		status = "first_sample";
	} else if (boot && (!json_is_string(prev_boot) ||
			    strcmp(json_string_value(prev_boot), boot) != 0)) {
		status = "rebooted";
	} else if (now - json_integer_value(prev_at) <= 0) {
		status = "clock_not_advanced";
	} else {
		elapsed_s = (double)(now - json_integer_value(prev_at)) / 1000.0;
	}

	json_t *next = json_object();
	json_t *next_devices = json_object();
	if (!next || !next_devices || json_object_set_new(next, "devices", next_devices) < 0 ||
	    json_object_set_new(next, "at_ms", json_integer(now)) < 0 ||
	    (boot && json_object_set_new(next, "boot_id", json_string(boot)) < 0)) {
		json_decref(next);
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n_dev; i++) {
		const struct probe_disk_iocounters *c = &dev[i];
		uint64_t cur[N_COUNTERS], old[N_COUNTERS], d[N_COUNTERS];
		if (matches(ctx->exclude_devices, c->name) ||
		    probe_disk_is_partition(dev, n_dev, c->name))
			continue;
		if (c->rd_ios == 0 && c->wr_ios == 0)
			continue; /* never used: nothing to say */
		counters_of(c, cur);
		json_t *saved = json_array();
		if (!saved || json_object_set_new(next_devices, c->name, saved) < 0)
			goto nomem_next;
		for (size_t k = 0; k < N_COUNTERS; k++)
			if (json_array_append_new(saved, json_integer((json_int_t)cur[k])) < 0)
				goto nomem_next;
		if (elapsed_s <= 0 || !prev_counters(prev_devices, c->name, old))
			continue;
		json_t *o = json_object();
		if (!o || json_object_set_new(devices, c->name, o) < 0)
			goto nomem_next;
		bool ok = true;
		for (size_t k = 0; k < N_COUNTERS; k++)
			ok = ok && probe_disk_counter_delta(old[k], cur[k], &d[k]);
		if (!ok) {
			if (json_object_set_new(o, "status", json_string("counters_reset")) < 0)
				goto nomem_next;
			continue;
		}
		uint64_t ios = d[0] + d[3];
		double rlat = d[0] ? (double)d[2] / (double)d[0] : 0;
		double wlat = d[3] ? (double)d[5] / (double)d[3] : 0;
		double lat = ios ? (double)(d[2] + d[5]) / (double)ios : 0;
		double util = 100.0 * (double)d[6] / (elapsed_s * 1000.0);
		if (util > 100)
			util = 100;
		json_t *mp = mounts_on(mounts, idx, n_idx, dev, n_dev, c);
		if (!mp || json_object_set_new(o, "mounts", mp) < 0 ||
		    json_object_set_new(o, "status", json_string("ok")) < 0 ||
		    json_object_set_new(o, "iops", json_real(round1((double)ios / elapsed_s))) <
			    0 ||
		    json_object_set_new(o, "reads_per_s",
					json_real(round1((double)d[0] / elapsed_s))) < 0 ||
		    json_object_set_new(o, "writes_per_s",
					json_real(round1((double)d[3] / elapsed_s))) < 0 ||
		    json_object_set_new(o, "read_bytes_per_s",
					json_integer((json_int_t)llround((double)d[1] * 512.0 /
									 elapsed_s))) < 0 ||
		    json_object_set_new(o, "write_bytes_per_s",
					json_integer((json_int_t)llround((double)d[4] * 512.0 /
									 elapsed_s))) < 0 ||
		    json_object_set_new(o, "read_latency_ms", json_real(round1(rlat))) < 0 ||
		    json_object_set_new(o, "write_latency_ms", json_real(round1(wlat))) < 0 ||
		    json_object_set_new(o, "latency_ms", json_real(round1(lat))) < 0 ||
		    json_object_set_new(o, "util_pct", json_real(round1(util))) < 0 ||
		    json_object_set_new(o, "ios", json_integer((json_int_t)ios)) < 0 ||
		    json_object_set_new(o, "reads", json_integer((json_int_t)d[0])) < 0 ||
		    json_object_set_new(o, "writes", json_integer((json_int_t)d[3])) < 0 ||
		    json_object_set_new(o, "read_bytes", json_integer((json_int_t)(d[1] * 512))) <
			    0 ||
		    json_object_set_new(o, "write_bytes", json_integer((json_int_t)(d[4] * 512))) <
			    0)
			goto nomem_next;
		double thr;
		enum ep_severity sev =
			level(round1(lat), ctx->latency_warning_ms, ctx->latency_critical_ms, &thr);
		if (sev == EP_SEV_INFO || ios < (uint64_t)ctx->latency_min_ios)
			continue;
		snprintf(msg, sizeof(msg),
			 "%s answered I/O in %.1f ms on average over the last %.0f s (reads %.1f "
			 "ms, "
			 "writes %.1f ms; %.1f IOPS, %.1f%% busy)",
			 c->name, round1(lat), elapsed_s, round1(rlat), round1(wlat),
			 round1((double)ios / elapsed_s), round1(util));
		struct ep_finding f = {
			.kind = "disk_latency",
			.object = c->name,
			.value = round1(lat),
			.unit = "ms",
			.threshold = thr,
			.severity = sev,
			.method = "diskstats",
			.message = msg,
			.remediation =
				"Find what loads the disk (iotop -o, pg_stat_statements), check "
				"its health (smartctl -a, dmesg), and move hot data to faster "
				"storage if it is saturated.",
		};
		json_t *extra =
			json_pack("{s:f, s:f, s:f}", "read_latency_ms", round1(rlat),
				  "write_latency_ms", round1(wlat), "util_pct", round1(util));
		if (add_finding(r, &f, extra) < 0)
			goto nomem_next;
	}
	/* No state object (a caller that keeps nothing): rates never start. */
	if (!json_is_object(r->state))
		json_decref(next);
	else if (json_object_set_new(r->state, "io", next) < 0) {
		rc = -ENOMEM;
		goto out;
	}
	if (json_object_set_new(r->metrics, "io_status", json_string(status)) < 0 ||
	    json_object_set_new(r->metrics, "io_interval_s",
				elapsed_s > 0 ? json_real(round1(elapsed_s)) : json_null()) < 0)
		rc = -ENOMEM;
	if (rc == 0 && strcmp(status, "ok") != 0) {
		const char *note =
			strcmp(status, "first_sample") == 0
				? "first sample: I/O rates and latency need the counters of a "
				  "previous cycle"
			: strcmp(status, "rebooted") == 0
				? "the host rebooted since the last cycle: counters restarted, "
				  "rates from the next cycle"
				: "no time passed since the last sample: rates from the next cycle";
		if (json_object_set_new(r->metrics, "io_note", json_string(note)) < 0)
			rc = -ENOMEM;
	}
	goto out;
nomem_next:
	json_decref(next);
	rc = -ENOMEM;
out:
	free(dev);
	free(text);
	free(boot);
	return rc;
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
	rc = read_under_root(ctx->root, "/proc/self/mountinfo", &text);
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
	if (read_under_root(ctx->root, "/etc/fstab", &text) == 0 &&
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
	if (ctx->io && (rc = measure_io(ctx, &mounts, idx, n, r)) < 0)
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

	int rc = read_under_root(c->root, "/proc/self/mountinfo", &text);
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
