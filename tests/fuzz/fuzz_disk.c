/* libFuzzer target: the disk probe's parsers of kernel and admin text
 * (probes/disk/disk.h): /proc/self/mountinfo, /etc/fstab and
 * /proc/diskstats, plus the helpers the probe applies to what they return
 * (fstab lookup, option test, pseudo / network filesystem tests, partition
 * test, counter deltas). The parsers take NUL-terminated text: the input is
 * a heap copy of exactly size bytes plus the NUL, so ASan catches any read
 * past it. Checked: every mount has its four strings, device numbers stay
 * in the kernel's 20 bits, parsed + malformed lines never exceed the lines,
 * "shadowed" is set exactly when a later mount sits on the same point,
 * fstab entries and device names are bounded and terminated, a device is
 * never a partition of itself, and a counter delta never exceeds 2^32 when
 * the counter went backwards. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "probes/disk/disk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t count_lines(const char *s)
{
	size_t k = 0, n = strlen(s);
	for (size_t i = 0; i < n; i++)
		k += s[i] == '\n';
	return k + (n && s[n - 1] != '\n');
}

static void check_mounts(const char *text)
{
	struct probe_disk_mounts m;
	struct probe_disk_fstab f;
	size_t bad = 0;

	if (probe_disk_mounts_parse(text, &m, &bad) < 0)
		return;
	if (m.n > PROBE_DISK_MAX_MOUNTS || m.n + bad > count_lines(text))
		abort();
	if (probe_disk_fstab_parse(text, &f) < 0)
		memset(&f, 0, sizeof(f));
	if (f.n > count_lines(text))
		abort();
	for (size_t i = 0; i < f.n; i++)
		if (!f.mount_points[i] || !f.options[i])
			abort();
	for (size_t i = 0; i < m.n; i++) {
		const struct probe_disk_mount *x = &m.v[i];
		if (!x->root || !x->mount_point || !x->fstype || !x->source || x->major > 0xfffff ||
		    x->minor > 0xfffff)
			abort();
		bool later = false;
		for (size_t j = i + 1; j < m.n && !later; j++)
			later = strcmp(x->mount_point, m.v[j].mount_point) == 0;
		if (later != x->shadowed)
			abort();
		const char *opts = probe_disk_fstab_options(&f, x->mount_point);
		(void)probe_disk_has_option(opts, "ro");
		(void)probe_disk_fstype_pseudo(x->fstype, x->mount_point);
		(void)probe_disk_fstype_network(x->fstype);
	}
	probe_disk_fstab_free(&f);
	probe_disk_mounts_free(&m);
}

static void check_diskstats(const char *text)
{
	struct probe_disk_iocounters *v = NULL;
	size_t n = 0;

	if (probe_disk_diskstats_parse(text, &v, &n) < 0)
		return;
	if (n > count_lines(text))
		abort();
	for (size_t i = 0; i < n; i++) {
		uint64_t d;
		if (!memchr(v[i].name, '\0', sizeof(v[i].name)) || !v[i].name[0] ||
		    v[i].major > 0xfffff || v[i].minor > 0xfffff)
			abort();
		if (probe_disk_partition_of(v[i].name, v[i].name))
			abort();
		(void)probe_disk_is_partition(v, n, v[i].name);
		/* two consecutive devices' counters as prev/cur samples */
		const struct probe_disk_iocounters *p = &v[i ? i - 1 : 0];
		if (probe_disk_counter_delta(p->rd_ios, v[i].rd_ios, &d) &&
		    ((v[i].rd_ios >= p->rd_ios && d != v[i].rd_ios - p->rd_ios) ||
		     (v[i].rd_ios < p->rd_ios && d > (uint64_t)UINT32_MAX + 1)))
			abort();
	}
	free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	check_mounts(text);
	check_diskstats(text);
	free(text);
	return 0;
}
