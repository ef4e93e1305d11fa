/* The disk probe's pieces, shared by probes/disk.c and the files in probes/disk/ and
 * exercised directly by tests/unit/test_disk.c (which injects statvfs and the
 * clock so fixture trees give byte-exact golden output). docs/probes-disk.md
 * describes the rules these implement. */
#ifndef ERPULSE_PROBES_DISK_H
#define ERPULSE_PROBES_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "erpulse/probe.h"

/* ---- mount table (probes/disk/mounts.c) --------------------------------- */

#define PROBE_DISK_MAX_MOUNTS   4096       /* lines of mountinfo we look at */
#define PROBE_DISK_MAX_FILE     (4u << 20) /* mountinfo / diskstats / fstab cap */
#define PROBE_DISK_MAX_REPORTED 512        /* filesystems per report (1 MiB body cap) */
#define PROBE_DISK_MAX_ALSO     8          /* names in also_mounted_at */

struct probe_disk_mount {
	unsigned major, minor;
	char *root;                /* the filesystem's directory mounted here ("/" = whole fs) */
	char *mount_point;         /* unescaped */
	char *fstype;              /* "ext4", "fuse.sshfs" */
	char *source;              /* "/dev/vda1", "server:/export" */
	bool mnt_ro;               /* per-mount flag (bind ro, ProtectSystem=) */
	bool sb_ro;                /* the superblock is read-only: the filesystem itself */
	bool sb_errors_remount_ro; /* "errors=remount-ro" in super options */
	bool sb_emergency_ro;      /* ext4 since Linux 6.9: read-only after an error */
	bool shadowed;             /* another mount sits on the same mount point later */
	char **also;               /* other mount points of the same filesystem (NULL-terminated) */
	size_t n_also;
};

struct probe_disk_mounts {
	struct probe_disk_mount *v;
	size_t n;
};

/* Parses the text of /proc/self/mountinfo. Malformed lines are skipped and
 * counted in *ret_bad. 0 or -ENOMEM. */
int probe_disk_mounts_parse(const char *text, struct probe_disk_mounts *ret, size_t *ret_bad);
void probe_disk_mounts_free(struct probe_disk_mounts *m);

/* Mount point -> options from /etc/fstab text; NULL when not listed. The
 * returned pointer points into a malloc'd copy owned by f. */
struct probe_disk_fstab {
	char **mount_points;
	char **options;
	size_t n;
};
int probe_disk_fstab_parse(const char *text, struct probe_disk_fstab *ret);
const char *probe_disk_fstab_options(const struct probe_disk_fstab *f, const char *mount_point);
void probe_disk_fstab_free(struct probe_disk_fstab *f);

/* True when opts (comma-separated) contains exactly word. */
bool probe_disk_has_option(const char *opts, const char *word);
/* True for pseudo and image filesystems skipped by default (proc, tmpfs,
 * squashfs, overlay unless mounted on "/", ...). */
bool probe_disk_fstype_pseudo(const char *fstype, const char *mount_point);
/* True for network filesystems (statvfs may hang: run with a timeout). */
bool probe_disk_fstype_network(const char *fstype);

/* ---- block device I/O (probes/disk/diskstats.c) ------------------------- */

struct probe_disk_iocounters {
	char name[64];
	unsigned major, minor;
	uint64_t rd_ios, rd_sectors, rd_ticks;
	uint64_t wr_ios, wr_sectors, wr_ticks;
	uint64_t io_ticks;
};

/* Parses /proc/diskstats text. *ret is malloc'd (caller frees). 0 or -ENOMEM. */
int probe_disk_diskstats_parse(const char *text, struct probe_disk_iocounters **ret, size_t *ret_n);
/* True when name is a partition of another device in v (sda1 of sda,
 * nvme0n1p2 of nvme0n1, mmcblk0p1 of mmcblk0). */
bool probe_disk_is_partition(const struct probe_disk_iocounters *v, size_t n, const char *name);
/* True when name is a partition of the device parent. */
bool probe_disk_partition_of(const char *parent, const char *name);
/* Counter difference allowing for a 32-bit wrap; false when the counter went
 * backwards otherwise (device reset or replaced). */
bool probe_disk_counter_delta(uint64_t prev, uint64_t cur, uint64_t *ret);

/* ---- the probe proper (probes/disk.c) ------------------------------------ */

struct probe_disk_fsstat {
	uint64_t bytes_total, bytes_free, bytes_avail;
	uint64_t inodes_total, inodes_free, inodes_avail;
};

struct probe_disk_ctx {
	char *root;
	char **exclude_mounts;  /* fnmatch patterns */
	char **exclude_fstypes; /* added to the pseudo list */
	char **include_fstypes; /* taken out of the pseudo list ("tmpfs") */
	char **exclude_devices; /* fnmatch patterns over diskstats names */
	int64_t usage_warning, usage_critical;
	int64_t inode_warning, inode_critical;
	int64_t latency_warning_ms, latency_critical_ms;
	int64_t latency_min_ios;
	int64_t statfs_timeout_ms;
	bool io;
	/* statvfs(2) of path (a filesystem of type fstype) within timeout_ms;
	 * 0 or -errno (-ETIMEDOUT). Tests replace it to read fixture figures. */
	int (*statfs)(void *arg, const char *path, const char *fstype, int64_t timeout_ms,
		      struct probe_disk_fsstat *ret);
	void *statfs_arg;
	int64_t (*clock_ms)(void); /* monotonic ms; ep_mono_ms in production */
};

extern const struct ep_option probe_disk_options[];

/* Builds the context from a section (NULL: defaults). 0 or -errno with err. */
int probe_disk_ctx_new(const struct ep_config_section *section, const char *root,
		       struct probe_disk_ctx **ret, char *err, size_t errlen);
void probe_disk_ctx_free(struct probe_disk_ctx *ctx);
/* One measurement into r (metrics, findings, state). */
void probe_disk_measure(struct probe_disk_ctx *ctx, const struct ep_deadline *deadline,
			struct ep_probe_result *r);

/* ---- shared by disk.c, disk/io.c and disk/statfs.c ----------------------- */

/* Production statfs (disk/statfs.c): local filesystems directly, network ones
 * through a helper thread abandoned after timeout_ms (-ETIMEDOUT). */
int probe_disk_real_statfs(void *arg, const char *path, const char *fstype, int64_t timeout_ms,
			   struct probe_disk_fsstat *ret);
/* Per-device I/O figures and disk_latency findings from /proc/diskstats
 * deltas against r->state (disk/io.c). 0 or -ENOMEM. */
int probe_disk_measure_io(struct probe_disk_ctx *ctx, const struct probe_disk_mounts *mounts,
			  const size_t *idx, size_t n_idx, struct ep_probe_result *r);
/* Reads root + rel (capped at PROBE_DISK_MAX_FILE). 0 with *ret or -errno. */
int probe_disk_read_under_root(const char *root, const char *rel, char **ret);
/* True when s matches one of the shell patterns (NULL-terminated list). */
bool probe_disk_matches(char **patterns, const char *s);
/* x rounded to one decimal. */
double probe_disk_round1(double x);
/* Severity of v against warn and crit (each at or above). The finding
 * carries both lines: threshold = warn, critical_threshold = crit. */
enum ep_severity probe_disk_level(double v, int64_t warn, int64_t crit);
/* Appends finding f with extra fields (consumed) to r. 0 or -ENOMEM. */
int probe_disk_add_finding(struct ep_probe_result *r, const struct ep_finding *f, json_t *extra);

#endif
