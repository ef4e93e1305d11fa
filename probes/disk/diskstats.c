/* /proc/diskstats: per block device cumulative I/O counters
 * (Documentation/admin-guide/iostats.rst). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "probes/disk/disk.h"

#define MAX_DEVICES 4096

static bool parse_u64(const char *s, uint64_t *ret)
{
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end)
		return false;
	*ret = v;
	return true;
}

/* "   8       0 sda 1 2 3 4 5 6 7 8 9 10 11 ..." -> c. false if malformed. */
static bool parse_line(char *line, struct probe_disk_iocounters *c)
{
	char *f[24];
	size_t n = 0;
	uint64_t v[11], maj, min;
	char *save = NULL;

	for (char *t = strtok_r(line, " \t", &save); t && n < EP_ARRAY_SIZE(f);
	     t = strtok_r(NULL, " \t", &save))
		f[n++] = t;
	if (n < 14)
		return false;
	if (!parse_u64(f[0], &maj) || !parse_u64(f[1], &min) || maj > 0xfffff || min > 0xfffff)
		return false;
	if (strlen(f[2]) >= sizeof(c->name) || f[2][0] == '\0')
		return false;
	for (size_t i = 0; i < 11; i++)
		if (!parse_u64(f[3 + i], &v[i]))
			return false;
	memset(c, 0, sizeof(*c));
	c->major = (unsigned)maj;
	c->minor = (unsigned)min;
	memcpy(c->name, f[2], strlen(f[2]) + 1);
	c->rd_ios = v[0];
	c->rd_sectors = v[2];
	c->rd_ticks = v[3];
	c->wr_ios = v[4];
	c->wr_sectors = v[6];
	c->wr_ticks = v[7];
	/* v[8] is I/Os in flight: a gauge, not a counter */
	c->io_ticks = v[9];
	return true;
}

int probe_disk_diskstats_parse(const char *text, struct probe_disk_iocounters **ret, size_t *ret_n)
{
	struct probe_disk_iocounters *v = NULL;
	size_t n = 0, cap = 0;
	const char *p = text;

	while (*p && n < MAX_DEVICES) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char *line = strndup(p, len);
		if (!line)
			goto nomem;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct probe_disk_iocounters *nv = realloc(v, ncap * sizeof(*nv));
			if (!nv) {
				free(line);
				goto nomem;
			}
			v = nv;
			cap = ncap;
		}
		if (parse_line(line, &v[n]))
			n++;
		free(line);
		p = nl ? nl + 1 : p + len;
	}
	*ret = v;
	*ret_n = n;
	return 0;
nomem:
	free(v);
	return -ENOMEM;
}

bool probe_disk_partition_of(const char *parent, const char *name)
{
	size_t l = strlen(parent);

	if (l == 0 || strncmp(parent, name, l) != 0)
		return false;
	const char *rest = name + l;
	/* nvme0n1p1, mmcblk0p1, loop0p1: a 'p' when the disk ends in a digit */
	if (*rest == 'p' && parent[l - 1] >= '0' && parent[l - 1] <= '9')
		rest++;
	if (!*rest)
		return false;
	for (const char *q = rest; *q; q++)
		if (*q < '0' || *q > '9')
			return false;
	return true;
}

bool probe_disk_is_partition(const struct probe_disk_iocounters *v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (probe_disk_partition_of(v[i].name, name))
			return true;
	return false;
}

bool probe_disk_counter_delta(uint64_t prev, uint64_t cur, uint64_t *ret)
{
	if (cur >= prev) {
		*ret = cur - prev;
		return true;
	}
	/* 32-bit kernels keep these in an unsigned long: a wrap from near the
	 * top of 32 bits to a small value is a wrap, anything else a reset. */
	if (prev <= UINT32_MAX && prev > (UINT32_MAX / 4) * 3 && cur < UINT32_MAX / 4) {
		*ret = (uint64_t)UINT32_MAX - prev + cur + 1;
		return true;
	}
	return false;
}
