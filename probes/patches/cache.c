/* The patches probe's cache rule (cache.h). The simulation (apt-get -s
 * dist-upgrade: 2.4-3.8 CPU-s and ~85 MB a run) is a function of a few files
 * that change a few times a day; stat() of them costs microseconds. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "erpulse/util.h"
#include "probes/patches/cache.h"

static const char *const apt_inputs[] = {
	"/var/lib/dpkg/status",     "/var/lib/apt/lists",      "/var/cache/apt/pkgcache.bin",
	"/etc/apt/sources.list",    "/etc/apt/sources.list.d", "/etc/apt/preferences.d",
	"/var/run/reboot-required", "/run/reboot-required",    NULL,
};
static const char *const dnf_inputs[] = {
	"/var/lib/rpm",
	"/var/lib/rpm/rpmdb.sqlite",
	"/var/lib/rpm/Packages",
	"/var/cache/dnf",
	"/var/cache/yum",
	"/var/lib/dnf/history.sqlite",
	"/etc/yum.repos.d",
	"/etc/dnf/dnf.conf",
	"/var/run/reboot-required",
	"/run/reboot-required",
	NULL,
};

int probe_patches_inputs_fingerprint(const char *root, bool dnf, char *out, size_t outlen)
{
	const char *const *in = dnf ? dnf_inputs : apt_inputs;
	size_t len = 0;

	if (outlen == 0)
		return -ENOSPC;
	out[0] = '\0';
	for (size_t i = 0; in[i]; i++) {
		char full[PATH_MAX];
		struct stat st;
		int w;

		if (ep_snprintf(full, sizeof(full), "%s%s", root, in[i]) < 0 || stat(full, &st) < 0)
			w = snprintf(out + len, outlen - len, "%s-", i ? "|" : "");
		else
			w = snprintf(out + len, outlen - len, "%s%ju:%jd:%jd.%09ld", i ? "|" : "",
				     (uintmax_t)st.st_ino, (intmax_t)st.st_size,
				     (intmax_t)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
		if (w < 0 || (size_t)w >= outlen - len)
			return -ENOSPC;
		len += (size_t)w;
	}
	return 0;
}

int probe_patches_boot_fingerprint(const char *root, bool dnf, const char *kernel, char *out,
				   size_t outlen)
{
	char full[PATH_MAX], boot[64] = "";
	char *b = NULL;
	size_t blen = 0;

	if (ep_snprintf(full, sizeof(full), "%s/proc/sys/kernel/random/boot_id", root) == 0 &&
	    ep_read_file(full, 256, &b, &blen) == 0) {
		snprintf(boot, sizeof(boot), "%.*s", (int)strcspn(b, "\n"), b);
		free(b);
	}
	return ep_snprintf(out, outlen, "%s|%s|%s", dnf ? "dnf" : "apt", kernel, boot) < 0 ? -ENOSPC
											   : 0;
}

enum probe_patches_decision probe_patches_decide(const struct probe_patches_policy *p,
						 const json_t *cache, const char *inputs,
						 const char *boot, int64_t now, int64_t *ret_age_s)
{
	const char *saved_inputs = json_string_value(json_object_get(cache, "inputs"));
	const char *saved_boot = json_string_value(json_object_get(cache, "boot"));
	json_t *at_j = json_object_get(cache, "at");
	int64_t at, age;

	*ret_age_s = 0;
	if (!json_is_object(cache) || !saved_inputs || !saved_boot || !json_is_integer(at_j) ||
	    !json_is_object(json_object_get(cache, "metrics")) ||
	    !json_is_array(json_object_get(cache, "findings")))
		return PROBE_PATCHES_RUN_FIRST;
	at = (int64_t)json_integer_value(at_j);
	if (at > now)
		return PROBE_PATCHES_RUN_FIRST; /* the clock went back: no age to trust */
	age = now - at;
	*ret_age_s = age;
	if (strcmp(saved_boot, boot) != 0)
		return PROBE_PATCHES_RUN_BOOT;
	if (p->max_age_s <= 0 || age >= p->max_age_s)
		return PROBE_PATCHES_RUN_EXPIRED;
	if (strcmp(saved_inputs, inputs) == 0)
		return PROBE_PATCHES_CACHED;
	return age >= p->min_interval_s ? PROBE_PATCHES_RUN_CHANGED : PROBE_PATCHES_CACHED_PENDING;
}

const char *probe_patches_decision_name(enum probe_patches_decision d)
{
	switch (d) {
	case PROBE_PATCHES_RUN_FIRST:
		return "first";
	case PROBE_PATCHES_RUN_BOOT:
		return "boot";
	case PROBE_PATCHES_RUN_CHANGED:
		return "changed";
	case PROBE_PATCHES_RUN_EXPIRED:
		return "expired";
	case PROBE_PATCHES_CACHED:
		return "cached";
	case PROBE_PATCHES_CACHED_PENDING:
		return "pending";
	}
	return "?";
}
