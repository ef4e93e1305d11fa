/* How a log looks (probes/log/fit.h). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "probes/log/fit.h"

bool probe_log_has_layout(const struct probe_log_rules *r)
{
	return r->header.code || (r->record_start.code && r->multiline);
}

bool probe_log_mismatch(uint64_t lines, uint64_t format_lines, uint64_t min_lines)
{
	return lines >= min_lines && lines > 0 &&
	       (double)format_lines * 100.0 < PROBE_LOG_MISMATCH_PCT * (double)lines;
}

int probe_log_fit(const struct probe_log_rules *r, const char *sample, size_t len,
		  struct probe_log_fit *ret)
{
	struct probe_log_rules quiet = *r; /* shares r's compiled patterns */
	struct probe_log_scanner sc;

	quiet.signatures = false;
	memset(ret, 0, sizeof(*ret));
	if (probe_log_scanner_init(&sc, &quiet) < 0)
		return -ENOMEM;
	probe_log_scan(&sc, sample, len);
	ret->lines = sc.counts.lines;
	ret->format_lines = sc.counts.format_lines;
	memcpy(ret->unmatched, sc.unmatched, sizeof(ret->unmatched));
	probe_log_scanner_free(&sc);
	return 0;
}

const struct probe_log_preset *probe_log_best_preset(const char *sample, size_t len,
						     uint64_t min_lines, double *ret_pct)
{
	const struct probe_log_preset *best = NULL;
	double best_pct = 0;
	char err[256];

	for (const struct probe_log_preset *p = probe_log_presets; p->name; p++) {
		struct probe_log_rules r;
		struct probe_log_fit fit;
		probe_log_rules_init(&r);
		if (probe_log_rules_from_preset(&r, p, NULL, err, sizeof(err)) == 0 &&
		    probe_log_fit(&r, sample, len, &fit) == 0 && fit.lines >= min_lines &&
		    !probe_log_mismatch(fit.lines, fit.format_lines, 0)) {
			double pct = 100.0 * (double)fit.format_lines / (double)fit.lines;
			if (pct > best_pct) {
				best = p;
				best_pct = pct;
			}
		}
		probe_log_rules_free(&r);
	}
	*ret_pct = best_pct;
	return best;
}

int probe_log_tail(const char *path, char *buf, size_t cap, size_t *ret_len)
{
	struct stat st;
	size_t want = cap < PROBE_LOG_TAIL_BYTES ? cap : PROBE_LOG_TAIL_BYTES;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	int r = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EINVAL;
		goto out;
	}
	off_t from = st.st_size > (off_t)want ? st.st_size - (off_t)want : 0;
	ssize_t got = pread(fd, buf, want, from);
	if (got < 0) {
		r = -errno;
		goto out;
	}
	size_t start = 0, n = (size_t)got;
	if (from > 0) { /* drop the partial first line */
		const char *nl = memchr(buf, '\n', n);
		start = nl ? (size_t)(nl - buf) + 1 : n;
	}
	memmove(buf, buf + start, n - start);
	*ret_len = n - start;
out:
	close(fd);
	return r;
}

/* n digits at p as a number, or -1. */
static int digits(const char *p, size_t n)
{
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

static bool to_ms(int y, int mon, int d, int h, int mi, int s, int64_t *ret)
{
	struct tm tm = {0};

	if (y < 1970 || y > 9999 || mon < 1 || mon > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
	    s > 60)
		return false;
	tm.tm_year = y - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	*ret = (int64_t)timegm(&tm) * 1000;
	return true;
}

/* "HH:MM:SS" at p (8 bytes available). */
static bool hms(const char *p, int *h, int *mi, int *s)
{
	*h = digits(p, 2);
	*mi = digits(p + 3, 2);
	*s = digits(p + 6, 2);
	return p[2] == ':' && p[5] == ':' && *h >= 0 && *mi >= 0 && *s >= 0;
}

/* "YYYY-MM-DD[ T]HH:MM:SS[,.]mmm" at p, len bytes available. */
static bool iso_at(const char *p, size_t len, int64_t *ret)
{
	int h, mi, s;

	if (len < 19 || p[4] != '-' || p[7] != '-' || (p[10] != ' ' && p[10] != 'T') ||
	    !hms(p + 11, &h, &mi, &s))
		return false;
	int y = digits(p, 4), mon = digits(p + 5, 2), d = digits(p + 8, 2);
	if (y < 0 || mon < 0 || d < 0 || !to_ms(y, mon, d, h, mi, s, ret))
		return false;
	if (len >= 23 && (p[19] == ',' || p[19] == '.') && digits(p + 20, 3) >= 0)
		*ret += digits(p + 20, 3);
	return true;
}

/* "Www Mmm DD HH:MM:SS YYYY" at p. */
static bool ctime_at(const char *p, size_t len, int64_t *ret)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	int h, mi, s;

	if (len < 24 || p[3] != ' ' || p[7] != ' ' || p[10] != ' ' || p[19] != ' ' ||
	    !hms(p + 11, &h, &mi, &s))
		return false;
	for (int m = 0; m < 12; m++)
		if (memcmp(p + 4, months + 3 * m, 3) == 0) {
			int d = p[8] == ' ' ? digits(p + 9, 1) : digits(p + 8, 2);
			int y = digits(p + 20, 4);
			return d >= 0 && y >= 0 && to_ms(y, m + 1, d, h, mi, s, ret);
		}
	return false;
}

bool probe_log_line_time(const char *line, size_t len, int64_t *ret_ms)
{
	for (size_t i = 0; i < len && i <= 48; i++) {
		char c = line[i];
		if (c >= '0' && c <= '9' && (i == 0 || line[i - 1] < '0' || line[i - 1] > '9') &&
		    iso_at(line + i, len - i, ret_ms))
			return true;
		if (c >= 'A' && c <= 'Z' && (i == 0 || line[i - 1] == ' ' || line[i - 1] == '[') &&
		    ctime_at(line + i, len - i, ret_ms))
			return true;
	}
	return false;
}

#define SPAN_BYTES 4096

/* The time of the first (last: backwards) line of buf[0..n) carrying one;
 * buf starts and ends at line boundaries unless cut. */
static bool edge_time(const char *buf, size_t n, bool last, int64_t *ret)
{
	if (!last) {
		for (size_t ls = 0; ls < n;) {
			const char *nl = memchr(buf + ls, '\n', n - ls);
			size_t le = nl ? (size_t)(nl - buf) : n;
			if (probe_log_line_time(buf + ls, le - ls, ret))
				return true;
			ls = le + 1;
		}
		return false;
	}
	for (size_t le = n; le > 0;) {
		size_t ls = le;
		while (ls > 0 && buf[ls - 1] != '\n')
			ls--;
		if (probe_log_line_time(buf + ls, le - ls, ret))
			return true;
		le = ls > 0 ? ls - 1 : 0;
	}
	return false;
}

bool probe_log_time_span(const char *path, uint64_t from, uint64_t to, int64_t *ret_first,
			 int64_t *ret_last)
{
	char buf[SPAN_BYTES];
	bool ok = false;
	int fd;

	if (to <= from || (fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) < 0)
		return false;
	size_t want = to - from < SPAN_BYTES ? (size_t)(to - from) : SPAN_BYTES;
	ssize_t got = pread(fd, buf, want, (off_t)from);
	if (got > 0 && edge_time(buf, (size_t)got, false, ret_first)) {
		uint64_t tail = to - from < SPAN_BYTES ? from : to - SPAN_BYTES;
		got = pread(fd, buf, (size_t)(to - tail), (off_t)tail);
		/* a cut first line of the tail is not a line start: skip it */
		size_t skip = 0;
		if (got > 0 && tail > from) {
			const char *nl = memchr(buf, '\n', (size_t)got);
			skip = nl ? (size_t)(nl - buf) + 1 : (size_t)got;
		}
		ok = got > 0 && edge_time(buf + skip, (size_t)got - skip, true, ret_last);
	}
	close(fd);
	return ok;
}
