/* Small helpers both binaries need: clocks and deadlines, RFC 3339 time,
 * strict number parsing, atomic file writes, bounded buffers, UTF-8 checks.
 * Library code: no logging; every function returns 0 or -errno. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "erpulse/util.h"

/* ---- clocks and deadlines ------------------------------------------------ */

static int64_t clock_ms(clockid_t id)
{
	struct timespec ts;

	if (clock_gettime(id, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int ep_thread_start(pthread_t *t, void *(*fn)(void *), void *arg, const char *name)
{
	int r = -pthread_create(t, NULL, fn, arg);
	if (r == 0)
		pthread_setname_np(*t, name);
	return r;
}

int64_t ep_mono_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

int64_t ep_wall_ms(void)
{
	return clock_ms(CLOCK_REALTIME);
}

/* ms < 0 is treated as 0 (already due); a sum that would overflow means
 * "never" (INT64_MAX). */
struct ep_deadline ep_deadline_in(int64_t ms)
{
	struct ep_deadline d;
	int64_t now = ep_mono_ms();

	if (ms < 0)
		ms = 0;
	if (ms >= INT64_MAX - now)
		d.at_ms = INT64_MAX;
	else
		d.at_ms = now + ms;
	return d;
}

int64_t ep_deadline_left_ms(const struct ep_deadline *d)
{
	int64_t now;

	if (d->at_ms == INT64_MAX)
		return INT64_MAX;
	now = ep_mono_ms();
	return d->at_ms > now ? d->at_ms - now : 0;
}

bool ep_deadline_expired(const struct ep_deadline *d)
{
	return ep_deadline_left_ms(d) == 0;
}

/* ---- RFC 3339 -------------------------------------------------------------- */

int ep_time_format(time_t t, char *buf, size_t size)
{
	struct tm tm;
	size_t n;

	if (!buf || size == 0)
		return -ENOSPC;
	buf[0] = '\0';
	if (!gmtime_r(&t, &tm))
		return -EINVAL;
	n = strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (n == 0) {
		buf[0] = '\0';
		return -ENOSPC;
	}
	return 0;
}

/* Reads exactly n decimal digits. */
static bool digits(const char **p, int n, int *ret)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		char c = (*p)[i];
		if (c < '0' || c > '9')
			return false;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*ret = v;
	return true;
}

static bool is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* RFC 3339 section 5.6 date-time. "T"/"Z" may be lower case (5.6 NOTE); a
 * leap second (:60) is accepted and lands on the next second. */
int ep_time_parse(const char *s, time_t *ret)
{
	const char *p = s;
	int year, mon, day, hour, min, sec, oh = 0, om = 0, sign = 0;
	struct tm tm;
	time_t t;

	if (!s)
		return -EINVAL;
	if (!digits(&p, 4, &year) || *p++ != '-' || !digits(&p, 2, &mon) || *p++ != '-' ||
	    !digits(&p, 2, &day))
		return -EINVAL;
	if (*p != 'T' && *p != 't')
		return -EINVAL;
	p++;
	if (!digits(&p, 2, &hour) || *p++ != ':' || !digits(&p, 2, &min) || *p++ != ':' ||
	    !digits(&p, 2, &sec))
		return -EINVAL;
	if (mon < 1 || mon > 12 || day < 1 || day > days_in_month(year, mon) || hour > 23 ||
	    min > 59 || sec > 60)
		return -EINVAL;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p == '+' ? 1 : -1;
		p++;
		if (!digits(&p, 2, &oh) || *p++ != ':' || !digits(&p, 2, &om))
			return -EINVAL;
		if (oh > 23 || om > 59)
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	if (*p != '\0')
		return -EINVAL;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	errno = 0;
	t = timegm(&tm);
	if (t == (time_t)-1 && errno != 0)
		return -EINVAL;
	/* local time = UTC + offset, so UTC = local - offset */
	t -= (time_t)sign * ((time_t)oh * 3600 + (time_t)om * 60);
	*ret = t;
	return 0;
}

/* ---- strict numbers ------------------------------------------------------- */

/* Optional '-' or '+', then decimal digits only: no spaces, no hex, no octal
 * surprises (strtoll base 10), nothing after. */
int ep_parse_int64(const char *s, int64_t min, int64_t max, int64_t *ret)
{
	const char *p;
	char *end;
	long long v;

	if (!s)
		return -EINVAL;
	p = s;
	if (*p == '-' || *p == '+')
		p++;
	if (*p < '0' || *p > '9')
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end != '\0')
		return -EINVAL;
	if (errno == ERANGE)
		return -ERANGE;
	if (v < min || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

int ep_parse_duration(const char *s, int64_t min, int64_t max, int64_t *ret_seconds)
{
	char num[32];
	size_t len;
	int64_t mult = 1, v;
	int r;

	if (!s)
		return -EINVAL;
	len = strlen(s);
	if (len == 0 || len >= sizeof(num))
		return len == 0 ? -EINVAL : -ERANGE;
	memcpy(num, s, len + 1);
	switch (num[len - 1]) {
	case 's':
		mult = 1;
		break;
	case 'm':
		mult = 60;
		break;
	case 'h':
		mult = 3600;
		break;
	case 'd':
		mult = 86400;
		break;
	default:
		mult = 0;
		break;
	}
	if (mult != 0)
		num[--len] = '\0';
	else
		mult = 1;
	if (num[0] == '-' || num[0] == '+')
		return -EINVAL; /* a duration has no sign */
	r = ep_parse_int64(num, 0, INT64_MAX, &v);
	if (r < 0)
		return r;
	if (v > INT64_MAX / mult)
		return -ERANGE;
	v *= mult;
	if (v < min || v > max)
		return -ERANGE;
	*ret_seconds = v;
	return 0;
}

/* ---- files ------------------------------------------------------------------ */

int ep_fsync_dir(const char *dir)
{
	struct stat st;
	char *copy = NULL;
	const char *target = dir;
	int fd, r = 0;

	if (!dir || !*dir)
		return -EINVAL;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		char *slash;

		copy = strdup(dir);
		if (!copy)
			return -ENOMEM;
		slash = strrchr(copy, '/');
		if (!slash)
			target = ".";
		else if (slash == copy)
			target = "/";
		else {
			*slash = '\0';
			target = copy;
		}
	}
	fd = open(target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	if (fsync(fd) != 0 && errno != EINVAL && errno != EROFS)
		r = -errno;
	close(fd);
out:
	free(copy);
	return r;
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Temp name "<dir>/.<base>.tmp-<16 hex>", created O_EXCL so a leftover or a
 * planted file (or symlink) is never reused. */
int ep_atomic_write(const char *path, const void *data, size_t len, mode_t mode)
{
	char *tmp = NULL;
	size_t plen;
	const char *slash, *base;
	int fd = -1, r = 0, tries;
	bool created = false;

	if (!path || !*path || (!data && len > 0))
		return -EINVAL;
	plen = strlen(path);
	if (path[plen - 1] == '/')
		return -EISDIR;
	slash = strrchr(path, '/');
	base = slash ? slash + 1 : path;
	tmp = malloc(plen + 32);
	if (!tmp)
		return -ENOMEM;

	for (tries = 0; tries < 16; tries++) {
		unsigned char rnd[8];
		char hex[17];

		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
			r = -EIO;
			goto out;
		}
		for (size_t i = 0; i < sizeof(rnd); i++)
			snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
		snprintf(tmp, plen + 32, "%.*s.%s.tmp-%s", (int)(base - path), path, base, hex);
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode & 07777);
		if (fd >= 0)
			break;
		if (errno != EEXIST) {
			r = -errno;
			goto out;
		}
	}
	if (fd < 0) {
		r = -EEXIST;
		goto out;
	}
	created = true;
	/* exact mode regardless of umask */
	if (fchmod(fd, mode & 07777) != 0) {
		r = -errno;
		goto out;
	}
	r = write_all(fd, data, len);
	if (r < 0)
		goto out;
	if (fsync(fd) != 0) {
		r = -errno;
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		r = -errno;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		r = -errno;
		goto out;
	}
	created = false;
	r = ep_fsync_dir(path);
out:
	if (fd >= 0)
		close(fd);
	if (created)
		unlink(tmp);
	free(tmp);
	return r;
}

int ep_read_file(const char *path, size_t max, char **ret_data, size_t *ret_len)
{
	struct stat st;
	char *buf = NULL, *nbuf;
	size_t len = 0, cap;
	int fd, r = 0;

	if (!path || !ret_data)
		return -EINVAL;
	if (max >= SIZE_MAX - 1)
		max = SIZE_MAX - 2;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0) {
		r = -errno;
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		r = -EISDIR;
		goto out;
	}
	if (S_ISREG(st.st_mode) && st.st_size > 0 && (uintmax_t)st.st_size > max) {
		r = -EFBIG;
		goto out;
	}
	/* regular files: their size (+1 to see EOF); /proc files report 0 */
	cap = S_ISREG(st.st_mode) && st.st_size > 0 ? (size_t)st.st_size + 1 : 4096;
	if (cap > max + 1)
		cap = max + 1;
	buf = malloc(cap + 1);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t n;

		if (len == cap) {
			if (cap >= max + 1) {
				r = -EFBIG;
				goto out;
			}
			cap = cap > (max + 1) / 2 ? max + 1 : cap * 2;
			nbuf = realloc(buf, cap + 1);
			if (!nbuf) {
				r = -ENOMEM;
				goto out;
			}
			buf = nbuf;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max) {
			r = -EFBIG;
			goto out;
		}
	}
	buf[len] = '\0';
	*ret_data = buf;
	if (ret_len)
		*ret_len = len;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return r;
}

int ep_mkdir_p(const char *path, mode_t mode)
{
	char *copy;
	struct stat st;
	int r = 0;

	if (!path || !*path)
		return -EINVAL;
	copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	for (char *p = copy + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;
		*p = '\0';
		if (p[-1] != '/' && mkdir(copy, mode) != 0) {
			if (errno != EEXIST) {
				r = -errno;
				goto out;
			}
			if (stat(copy, &st) != 0) {
				r = -errno;
				goto out;
			}
			if (!S_ISDIR(st.st_mode)) {
				r = -ENOTDIR;
				goto out;
			}
		}
		*p = saved;
		if (saved == '\0')
			break;
	}
out:
	free(copy);
	return r;
}

/* ---- bounded buffer ---------------------------------------------------------- */

void ep_buf_init(struct ep_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max < SIZE_MAX - 1 ? max : SIZE_MAX - 2;
}

/* Makes room for `extra` more bytes plus the NUL. */
static int buf_reserve(struct ep_buf *b, size_t extra)
{
	size_t need, ncap;
	char *nd;

	if (extra > b->max - b->len)
		return -E2BIG;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 64;
	while (ncap < need)
		ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
	if (ncap > b->max + 1)
		ncap = b->max + 1;
	nd = realloc(b->data, ncap);
	if (!nd)
		return -ENOMEM;
	if (!b->data)
		nd[0] = '\0';
	b->data = nd;
	b->cap = ncap;
	return 0;
}

int ep_buf_append(struct ep_buf *b, const void *data, size_t len)
{
	int r = buf_reserve(b, len);

	if (r < 0)
		return r;
	if (len > 0)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int ep_buf_vprintf(struct ep_buf *b, const char *fmt, va_list ap)
{
	va_list aq;
	int n, r;

	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0)
		return -EINVAL;
	r = buf_reserve(b, (size_t)n);
	if (r < 0)
		return r;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int ep_buf_printf(struct ep_buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = ep_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

void ep_buf_reset(struct ep_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

/* An empty buffer yields a malloc'd "" so callers need not special-case it;
 * NULL only on ENOMEM. */
char *ep_buf_steal(struct ep_buf *b)
{
	char *d = b->data;

	if (!d)
		d = strdup("");
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	return d;
}

void ep_buf_free(struct ep_buf *b)
{
	if (!b)
		return;
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

int ep_snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!buf || size == 0)
		return -ENOSPC;
	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n < 0) {
		buf[0] = '\0';
		return -EINVAL;
	}
	return (size_t)n >= size ? -ENOSPC : 0;
}

/* ---- UTF-8 --------------------------------------------------------------------- */

/* RFC 3629 table 4: shortest form only, no surrogates, at most U+10FFFF. */
void ep_redact(char *buf, size_t size, const char *secret)
{
	static const char mask[] = "***";
	size_t slen = secret ? strlen(secret) : 0, mlen = sizeof(mask) - 1;
	char *p;

	if (!buf || size == 0 || slen == 0)
		return;
	buf[size - 1] = '\0';
	p = buf;
	while ((p = strstr(p, secret)) != NULL) {
		size_t at = (size_t)(p - buf), tail = strlen(p + slen);

		/* room for the mask and as much of the tail as fits */
		if (at + mlen >= size) {
			buf[at] = '\0';
			return;
		}
		if (at + mlen + tail >= size)
			tail = size - 1 - at - mlen;
		memmove(p + mlen, p + slen, tail);
		memcpy(p, mask, mlen);
		p[mlen + tail] = '\0';
		p += mlen;
	}
}

/* libpq quotes pieces of a conninfo it cannot parse (a whole malformed URI,
 * an undecodable %-token) in its messages. A URL is any scheme://...: the
 * scheme may be misspelt. */
void ep_conninfo_password(const char *ci, char *out, size_t outlen)
{
	const char *v = NULL, *end = NULL;

	out[0] = '\0';
	size_t slen =
		strspn(ci, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-");
	if (slen > 0 && strncmp(ci + slen, "://", 3) == 0) {
		const char *auth = ci + slen + 3;
		size_t alen = strcspn(auth, "@/");
		const char *colon = memchr(auth, ':', alen);

		if (auth[alen] == '@' && colon) {
			v = colon + 1;
			end = auth + alen;
		} else {
			const char *q = strchr(auth, '?');
			for (const char *p = q; p && !v; p = strchr(p + 1, '&'))
				if (strncmp(p + 1, "password=", 9) == 0)
					v = p + 10;
			end = v ? v + strcspn(v, "&") : NULL;
		}
	} else {
		for (const char *p = strstr(ci, "password"); p && !v;
		     p = strstr(p + 1, "password")) {
			const char *e = p + 8;
			if (p != ci && p[-1] != ' ' && p[-1] != '\t' && p[-1] != '\n')
				continue;
			e += strspn(e, " \t\n");
			if (*e != '=')
				continue;
			v = e + 1 + strspn(e + 1, " \t\n");
		}
		if (v && *v == '\'') {
			v++;
			for (end = v; *end && *end != '\''; end++)
				if (*end == '\\' && end[1])
					end++;
		} else if (v) {
			end = v + strcspn(v, " \t\n");
		}
	}
	if (v && end > v && (size_t)(end - v) < outlen) {
		memcpy(out, v, (size_t)(end - v));
		out[end - v] = '\0';
	}
}

bool ep_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	if (!s)
		return len == 0;
	while (i < len) {
		unsigned char c = p[i];
		size_t n;
		unsigned char lo = 0x80, hi = 0xBF;

		if (c == 0)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF) {
			n = 1;
		} else if (c >= 0xE0 && c <= 0xEF) {
			n = 2;
			if (c == 0xE0)
				lo = 0xA0; /* overlong */
			else if (c == 0xED)
				hi = 0x9F; /* surrogates */
		} else if (c >= 0xF0 && c <= 0xF4) {
			n = 3;
			if (c == 0xF0)
				lo = 0x90; /* overlong */
			else if (c == 0xF4)
				hi = 0x8F; /* > U+10FFFF */
		} else {
			return false; /* continuation byte, C0/C1 overlong, F5..FF */
		}
		if (len - i - 1 < n)
			return false;
		if (p[i + 1] < lo || p[i + 1] > hi)
			return false;
		for (size_t k = 2; k <= n; k++)
			if (p[i + k] < 0x80 || p[i + k] > 0xBF)
				return false;
		i += n + 1;
	}
	return true;
}

/* ---- terminal width ------------------------------------------------------------------ */

/* One code point from s (advanced); invalid bytes decode as themselves. */
static uint32_t utf8_next(const unsigned char **s)
{
	const unsigned char *p = *s;
	uint32_t c = p[0];
	int n = c >= 0xF0 && c < 0xF8 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
	if (c >= 0xF8)
		n = 0;
	uint32_t v = n == 3 ? c & 0x07 : n == 2 ? c & 0x0F : n == 1 ? c & 0x1F : c;
	for (int i = 1; i <= n; i++) {
		if ((p[i] & 0xC0) != 0x80) {
			*s = p + 1;
			return c;
		}
		v = v << 6 | (p[i] & 0x3F);
	}
	*s = p + 1 + n;
	return v;
}

static int code_width(uint32_t c)
{
	static const uint32_t zero[][2] = {
		{0x0300, 0x036F},
		{0x200B, 0x200F},
		{0x20D0, 0x20FF},
		{0xFE00, 0xFE0F},
	};
	static const uint32_t wide[][2] = {
		{0x1100, 0x115F},   {0x2E80, 0x303E},   {0x3041, 0x33FF},   {0x3400, 0x4DBF},
		{0x4E00, 0x9FFF},   {0xA000, 0xA4CF},   {0xAC00, 0xD7A3},   {0xF900, 0xFAFF},
		{0xFE30, 0xFE4F},   {0xFF00, 0xFF60},   {0xFFE0, 0xFFE6},   {0x1F300, 0x1F64F},
		{0x1F900, 0x1F9FF}, {0x20000, 0x2FFFD}, {0x30000, 0x3FFFD},
	};
	for (size_t i = 0; i < EP_ARRAY_SIZE(zero); i++)
		if (c >= zero[i][0] && c <= zero[i][1])
			return 0;
	for (size_t i = 0; i < EP_ARRAY_SIZE(wide); i++)
		if (c >= wide[i][0] && c <= wide[i][1])
			return 2;
	return 1;
}

size_t ep_text_width(const char *s)
{
	size_t w = 0;
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	while (*p)
		w += (size_t)code_width(utf8_next(&p));
	return w;
}

void ep_fput_padded(FILE *f, const char *s, size_t width, bool right)
{
	size_t w = ep_text_width(s);
	if (!right)
		fputs(s ? s : "", f);
	for (; w < width; w++)
		fputc(' ', f);
	if (right)
		fputs(s ? s : "", f);
}
