/* The disk probe's I/O figures: per-device latency, IOPS and utilisation from
 * /proc/diskstats deltas between cycles (the counters are kept in the probe
 * state). docs/probes-disk.md, "I/O". */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "erpulse/probe.h"
#include "probes/disk/disk.h"

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

int probe_disk_measure_io(struct probe_disk_ctx *ctx, const struct probe_disk_mounts *mounts,
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
	rc = probe_disk_read_under_root(ctx->root, "/proc/diskstats", &text);
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
	if (probe_disk_read_under_root(ctx->root, "/proc/sys/kernel/random/boot_id", &boot) == 0)
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
		if (probe_disk_matches(ctx->exclude_devices, c->name) ||
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
		    json_object_set_new(
			    o, "iops", json_real(probe_disk_round1((double)ios / elapsed_s))) < 0 ||
		    json_object_set_new(o, "reads_per_s",
					json_real(probe_disk_round1((double)d[0] / elapsed_s))) <
			    0 ||
		    json_object_set_new(o, "writes_per_s",
					json_real(probe_disk_round1((double)d[3] / elapsed_s))) <
			    0 ||
		    json_object_set_new(o, "read_bytes_per_s",
					json_integer((json_int_t)llround((double)d[1] * 512.0 /
									 elapsed_s))) < 0 ||
		    json_object_set_new(o, "write_bytes_per_s",
					json_integer((json_int_t)llround((double)d[4] * 512.0 /
									 elapsed_s))) < 0 ||
		    json_object_set_new(o, "read_latency_ms", json_real(probe_disk_round1(rlat))) <
			    0 ||
		    json_object_set_new(o, "write_latency_ms", json_real(probe_disk_round1(wlat))) <
			    0 ||
		    json_object_set_new(o, "latency_ms", json_real(probe_disk_round1(lat))) < 0 ||
		    json_object_set_new(o, "util_pct", json_real(probe_disk_round1(util))) < 0 ||
		    json_object_set_new(o, "ios", json_integer((json_int_t)ios)) < 0 ||
		    json_object_set_new(o, "reads", json_integer((json_int_t)d[0])) < 0 ||
		    json_object_set_new(o, "writes", json_integer((json_int_t)d[3])) < 0 ||
		    json_object_set_new(o, "read_bytes", json_integer((json_int_t)(d[1] * 512))) <
			    0 ||
		    json_object_set_new(o, "write_bytes", json_integer((json_int_t)(d[4] * 512))) <
			    0)
			goto nomem_next;
		enum ep_severity sev = probe_disk_level(
			probe_disk_round1(lat), ctx->latency_warning_ms, ctx->latency_critical_ms);
		if (sev == EP_SEV_INFO || ios < (uint64_t)ctx->latency_min_ios)
			continue;
		snprintf(msg, sizeof(msg),
			 "%s answered I/O in %.1f ms on average over the last %.0f s (reads %.1f "
			 "ms, "
			 "writes %.1f ms; %.1f IOPS, %.1f%% busy)",
			 c->name, probe_disk_round1(lat), elapsed_s, probe_disk_round1(rlat),
			 probe_disk_round1(wlat), probe_disk_round1((double)ios / elapsed_s),
			 probe_disk_round1(util));
		struct ep_finding f = {
			.kind = "disk_latency",
			.object = c->name,
			.value = probe_disk_round1(lat),
			.unit = "ms",
			.threshold = (double)ctx->latency_warning_ms,
			.critical_threshold = (double)ctx->latency_critical_ms,
			.min_size = (double)ctx->latency_min_ios,
			.size = (double)ios,
			.size_unit = "I/Os",
			.severity = sev,
			.method = "diskstats",
			.message = msg,
			.remediation =
				"Find what loads the disk (iotop -o, pg_stat_statements), check "
				"its health (smartctl -a, dmesg), and move hot data to faster "
				"storage if it is saturated.",
		};
		json_t *extra =
			json_pack("{s:f, s:f, s:f}", "read_latency_ms", probe_disk_round1(rlat),
				  "write_latency_ms", probe_disk_round1(wlat), "util_pct",
				  probe_disk_round1(util));
		if (probe_disk_add_finding(r, &f, extra) < 0)
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
				elapsed_s > 0 ? json_real(probe_disk_round1(elapsed_s))
					      : json_null()) < 0)
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
