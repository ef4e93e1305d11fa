/* When the patches probe runs the package manager's simulation again
 * (docs/probes-host.md, "The cached simulation"): fingerprints of the
 * simulation's inputs, and the rule that compares them with the cached
 * result's. Pure functions of a root directory, the cached state and a
 * clock given by the caller, so tests drive them over fake trees. */
#ifndef PROBE_PATCHES_CACHE_H
#define PROBE_PATCHES_CACHE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct probe_patches_policy {
	int64_t min_interval_s; /* changed inputs wait this long after the last run */
	int64_t max_age_s;      /* unchanged inputs: re-run once this old; 0 = every cycle */
};

enum probe_patches_decision {
	PROBE_PATCHES_RUN_FIRST,      /* no usable cached result */
	PROBE_PATCHES_RUN_BOOT,       /* rebooted, another kernel or package manager */
	PROBE_PATCHES_RUN_CHANGED,    /* inputs changed, min_interval after the last run */
	PROBE_PATCHES_RUN_EXPIRED,    /* the cached result is max_age old (or max_age 0) */
	PROBE_PATCHES_CACHED,         /* inputs unchanged: the cached result stands */
	PROBE_PATCHES_CACHED_PENDING, /* inputs changed within min_interval of the last
					 run: cached until then */
};

/* Inode, size and mtime (ns) of every input file and directory of the
 * simulation under root ("" for /): dpkg status, apt lists, package cache,
 * sources and preferences, the reboot flag (dnf: rpmdb, dnf/yum caches,
 * history, repositories, dnf.conf), "-" for one that is missing. 0 or
 * -ENOSPC when out is too small. */
int probe_patches_inputs_fingerprint(const char *root, bool dnf, char *out, size_t outlen);
/* The package manager, the running kernel release and the boot id: when
 * this changes the result is re-made at once. 0 or -ENOSPC. */
int probe_patches_boot_fingerprint(const char *root, bool dnf, const char *kernel, char *out,
				   size_t outlen);
/* Decides on the cached result cache (the state's "cache" object: "inputs",
 * "boot", "at", "metrics", "findings"; NULL = none) at time now. *ret_age_s
 * gets its age (0 when there is none). */
enum probe_patches_decision probe_patches_decide(const struct probe_patches_policy *p,
						 const json_t *cache, const char *inputs,
						 const char *boot, int64_t now, int64_t *ret_age_s);
/* "first", "boot", "changed", "expired", "cached", "pending". */
const char *probe_patches_decision_name(enum probe_patches_decision d);
static inline bool probe_patches_decision_runs(enum probe_patches_decision d)
{
	return d != PROBE_PATCHES_CACHED && d != PROBE_PATCHES_CACHED_PENDING;
}

#endif
