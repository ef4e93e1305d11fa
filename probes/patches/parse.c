/* Parsers for the patches probe (probes/patches/parse.h). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "probes/patches/parse.h"

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Iterates over lines: *pos advances; returns false at the end. */
static bool next_line(const char *text, size_t len, size_t *pos, const char **ret, size_t *ret_len)
{
	if (*pos >= len)
		return false;
	const char *s = text + *pos;
	const char *nl = memchr(s, '\n', len - *pos);
	size_t n = nl ? (size_t)(nl - s) : len - *pos;
	*ret = s;
	*ret_len = n;
	*pos += n + (nl ? 1 : 0);
	return true;
}

/* Splits a line into at most max whitespace-separated tokens. */
static size_t tokens(const char *s, size_t n, const char **tok, size_t *tlen, size_t max)
{
	size_t k = 0, i = 0;

	while (i < n && k < max) {
		while (i < n && is_ws(s[i]))
			i++;
		if (i >= n)
			break;
		size_t st = i;
		while (i < n && !is_ws(s[i]))
			i++;
		tok[k] = s + st;
		tlen[k] = i - st;
		k++;
	}
	return k;
}

static void keep_name(struct probe_updates *u, const char *s, size_t n)
{
	if (u->n_names >= PROBE_PATCHES_MAX_NAMES)
		return;
	if (n >= sizeof(u->names[0]))
		n = sizeof(u->names[0]) - 1;
	memcpy(u->names[u->n_names], s, n);
	u->names[u->n_names][n] = '\0';
	u->n_names++;
}

void probe_parse_apt_simulate(const char *text, size_t len, struct probe_updates *ret)
{
	size_t pos = 0, n;
	const char *l;

	memset(ret, 0, sizeof(*ret));
	while (next_line(text, len, &pos, &l, &n)) {
		const char *tok[3];
		size_t tl[3];
		if (n < 5 || memcmp(l, "Inst ", 5) != 0)
			continue;
		if (tokens(l, n, tok, tl, 3) < 2)
			continue;
		ret->pending++;
		if (tokens(l, n, tok, tl, 3) < 3 || tok[2][0] != '[')
			ret->new_installs++;
		/* the origins: inside the first "(...)" */
		const char *open = memchr(l, '(', n);
		if (!open)
			continue;
		const char *end = l + n;
		const char *close = memchr(open, ')', (size_t)(end - open));
		if (!close)
			close = end;
		bool security = false;
		for (const char *p = open; p < close && !security; p++) {
			if (*p != '/')
				continue;
			const char *q = p + 1;
			while (q < close && *q != ',' && *q != ' ' && *q != ']')
				q++;
			if ((size_t)(q - p - 1) >= 9 && memcmp(q - 9, "-security", 9) == 0)
				security = true;
		}
		if (security) {
			ret->security++;
			keep_name(ret, tok[1], tl[1]);
		}
	}
}

/* A small set of 64-bit hashes for counting distinct strings. */
struct hset {
	uint64_t *v;
	size_t n, cap;
};

static uint64_t fnv(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

/* true when new */
static bool hset_add(struct hset *h, const char *s, size_t n)
{
	uint64_t x = fnv(s, n);
	for (size_t i = 0; i < h->n; i++)
		if (h->v[i] == x)
			return false;
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 64;
		uint64_t *v = realloc(h->v, cap * sizeof(*v));
		if (!v)
			return true; /* counts may then overcount; never crash */
		h->v = v;
		h->cap = cap;
	}
	h->v[h->n++] = x;
	return true;
}

static bool tok_is(const char *t, size_t n, const char *word)
{
	return strlen(word) == n && strncasecmp(t, word, n) == 0;
}

void probe_parse_dnf_updateinfo(const char *text, size_t len, struct probe_updates *ret)
{
	struct hset pkgs = {0}, advs = {0};
	size_t pos = 0, n;
	const char *l;

	memset(ret, 0, sizeof(*ret));
	while (next_line(text, len, &pos, &l, &n)) {
		const char *tok[5];
		size_t tl[5];
		size_t k = tokens(l, n, tok, tl, 5);
		const char *sev = NULL, *pkg = NULL;
		size_t sevlen = 0, pkglen = 0;

		if (k >= 3 && tl[1] > 5 && memcmp(tok[1] + tl[1] - 5, "/Sec.", 5) == 0) {
			/* dnf 4: ADVISORY SEVERITY/Sec. NEVRA */
			sev = tok[1];
			sevlen = tl[1] - 5;
			pkg = tok[2];
			pkglen = tl[2];
		} else if (k >= 4 && tok_is(tok[1], tl[1], "security")) {
			/* dnf 5: ADVISORY security SEVERITY NEVRA [ISSUED] */
			sev = tok[2];
			sevlen = tl[2];
			pkg = tok[3];
			pkglen = tl[3];
		} else {
			continue;
		}
		if (hset_add(&pkgs, pkg, pkglen)) {
			ret->security++;
			keep_name(ret, pkg, pkglen);
		}
		if (hset_add(&advs, tok[0], tl[0])) {
			ret->advisories++;
			if (tok_is(sev, sevlen, "Critical"))
				ret->sev_critical++;
			else if (tok_is(sev, sevlen, "Important"))
				ret->sev_important++;
			else if (tok_is(sev, sevlen, "Moderate"))
				ret->sev_moderate++;
			else if (tok_is(sev, sevlen, "Low"))
				ret->sev_low++;
		}
	}
	free(pkgs.v);
	free(advs.v);
}

void probe_parse_dnf_check_update(const char *text, size_t len, struct probe_updates *ret)
{
	size_t pos = 0, n, carried = 0;
	const char *l;

	ret->pending = 0;
	while (next_line(text, len, &pos, &l, &n)) {
		const char *tok[4];
		size_t tl[4];
		if (n >= 19 && memcmp(l, "Obsoleting Packages", 19) == 0)
			break;
		if ((n >= 9 && memcmp(l, "Security:", 9) == 0) ||
		    (n >= 13 && memcmp(l, "Last metadata", 13) == 0))
			continue;
		size_t k = tokens(l, n, tok, tl, 4);
		if (k == 0) {
			carried = 0;
			continue;
		}
		if (carried == 1 && k == 2) { /* a long name wrapped onto its own line */
			ret->pending++;
			carried = 0;
			continue;
		}
		carried = 0;
		if (k == 1 && memchr(tok[0], '.', tl[0])) {
			carried = 1;
			continue;
		}
		if (k == 3 && memchr(tok[0], '.', tl[0]))
			ret->pending++;
	}
}

int probe_parse_needs_restarting(int exit_status, const char *text)
{
	if (text && strstr(text, "Reboot is required"))
		return 1;
	if (text && strstr(text, "Reboot should not be necessary"))
		return 0;
	if (exit_status == 1)
		return 1;
	if (exit_status == 0)
		return 0;
	return -1;
}

/* ---- os-release ------------------------------------------------------------ */

static void unquote(const char *v, size_t n, char *out, size_t outsize)
{
	size_t k = 0;
	char q = 0;

	if (n > 0 && (v[0] == '"' || v[0] == '\'')) {
		q = v[0];
		v++;
		n--;
		if (n > 0 && v[n - 1] == q)
			n--;
	}
	for (size_t i = 0; i < n && k + 1 < outsize; i++) {
		if (q == '"' && v[i] == '\\' && i + 1 < n)
			i++;
		out[k++] = v[i];
	}
	out[k] = '\0';
}

int probe_parse_os_release(const char *text, size_t len, struct probe_os *ret)
{
	size_t pos = 0, n;
	const char *l;

	memset(ret, 0, sizeof(*ret));
	while (next_line(text, len, &pos, &l, &n)) {
		const char *eq = memchr(l, '=', n);
		if (!eq || l[0] == '#')
			continue;
		size_t kl = (size_t)(eq - l);
		const char *v = eq + 1;
		size_t vl = n - kl - 1;
		while (vl > 0 && is_ws(v[vl - 1]))
			vl--;
#define KEY(k, field)                                                                              \
	if (kl == strlen(k) && memcmp(l, k, kl) == 0) {                                            \
		unquote(v, vl, ret->field, sizeof(ret->field));                                    \
		continue;                                                                          \
	}
		KEY("ID", id)
		KEY("ID_LIKE", id_like)
		KEY("VERSION_ID", version_id)
		KEY("VERSION_CODENAME", codename)
		KEY("PRETTY_NAME", pretty)
#undef KEY
	}
	return ret->id[0] ? 0 : -EINVAL;
}

/* Last day of security support, from the distributions' published
 * lifecycles. Debian: the LTS end (regular security support ends about two
 * years earlier); Ubuntu: end of standard support (ESM runs 5 years more
 * with a subscription); RHEL and rebuilds: end of Maintenance Support. */
const struct probe_eol probe_eol_table[] = {
	{"debian", "9", "2022-06-30", "Debian 9 LTS"},
	{"debian", "10", "2024-06-30", "Debian 10 LTS"},
	{"debian", "11", "2026-08-31", "Debian 11 LTS"},
	{"debian", "12", "2028-06-30", "Debian 12 LTS"},
	{"debian", "13", "2030-06-30", "Debian 13 LTS"},
	{"ubuntu", "18.04", "2023-05-31", "Ubuntu 18.04 standard support"},
	{"ubuntu", "20.04", "2025-05-31", "Ubuntu 20.04 standard support"},
	{"ubuntu", "22.04", "2027-06-01", "Ubuntu 22.04 standard support"},
	{"ubuntu", "24.04", "2029-05-31", "Ubuntu 24.04 standard support"},
	{"rhel", "7", "2024-06-30", "RHEL 7 maintenance support"},
	{"rhel", "8", "2029-05-31", "RHEL 8 maintenance support"},
	{"rhel", "9", "2032-05-31", "RHEL 9 maintenance support"},
	{"centos", "7", "2024-06-30", "CentOS Linux 7"},
	{"centos", "8", "2021-12-31", "CentOS Linux 8"},
	{"rocky", "8", "2029-05-31", "Rocky Linux 8"},
	{"rocky", "9", "2032-05-31", "Rocky Linux 9"},
	{"almalinux", "8", "2029-03-01", "AlmaLinux 8"},
	{"almalinux", "9", "2032-05-31", "AlmaLinux 9"},
	{"fedora", "39", "2024-11-26", "Fedora 39"},
	{"fedora", "40", "2025-05-13", "Fedora 40"},
	{"fedora", "41", "2025-12-15", "Fedora 41"},
	{NULL, NULL, NULL, NULL},
};

static const struct probe_eol *eol_find(const char *id, size_t idlen, const char *version)
{
	char major[32];
	size_t k = strcspn(version, ".");

	snprintf(major, sizeof(major), "%.*s", (int)k, version);
	for (const struct probe_eol *e = probe_eol_table; e->id; e++)
		if (strlen(e->id) == idlen && strncmp(e->id, id, idlen) == 0 &&
		    (strcmp(e->version, version) == 0 || strcmp(e->version, major) == 0))
			return e;
	return NULL;
}

const struct probe_eol *probe_eol_lookup(const struct probe_os *os)
{
	const struct probe_eol *e;

	if (!os->version_id[0])
		return NULL;
	if ((e = eol_find(os->id, strlen(os->id), os->version_id)))
		return e;
	/* derivatives: only when their VERSION_ID is the parent's (rebuilds) */
	const char *p = os->id_like;
	while (*p) {
		size_t k = strcspn(p, " ");
		if (k && (e = eol_find(p, k, os->version_id)) && strcmp(e->id, "rhel") == 0)
			return e;
		p += k + (p[k] == ' ');
	}
	return NULL;
}

/* ---- package listings ------------------------------------------------------ */

static void copy_field(char *dst, size_t dstsize, const char *s, size_t n)
{
	if (n >= dstsize)
		n = dstsize - 1;
	memcpy(dst, s, n);
	dst[n] = '\0';
}

static size_t parse_tabbed(const char *text, size_t len, struct probe_pkg *out, size_t max,
			   bool want_status)
{
	size_t pos = 0, n, k = 0;
	const char *l;

	while (k < max && next_line(text, len, &pos, &l, &n)) {
		const char *t1 = memchr(l, '\t', n);
		if (!t1)
			continue;
		const char *v = t1 + 1;
		const char *t2 = memchr(v, '\t', (size_t)(l + n - v));
		size_t vl = t2 ? (size_t)(t2 - v) : (size_t)(l + n - v);
		if (want_status && (!t2 || l + n - t2 < 3 || memcmp(t2 + 1, "ii", 2) != 0))
			continue;
		if (vl == 0 || t1 == l)
			continue;
		copy_field(out[k].name, sizeof(out[k].name), l, (size_t)(t1 - l));
		copy_field(out[k].version, sizeof(out[k].version), v, vl);
		k++;
	}
	return k;
}

size_t probe_parse_dpkg_query(const char *text, size_t len, struct probe_pkg *out, size_t max)
{
	return parse_tabbed(text, len, out, max, true);
}

size_t probe_parse_rpm_query(const char *text, size_t len, struct probe_pkg *out, size_t max)
{
	return parse_tabbed(text, len, out, max, false);
}

static bool all_digits_dots(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!is_digit(*s) && *s != '.')
			return false;
	return true;
}

bool probe_is_db_server_package(const char *name)
{
	static const char *const exact[] = {
		"postgresql-server",      "mariadb-server",        "mysql-server", "MariaDB-server",
		"mysql-community-server", "percona-server-server", NULL,
	};
	for (size_t i = 0; exact[i]; i++)
		if (strcmp(name, exact[i]) == 0)
			return true;
	/* postgresql-15 (Debian), postgresql16-server (PGDG RPM) */
	if (strncmp(name, "postgresql-", 11) == 0 && all_digits_dots(name + 11))
		return true;
	if (strncmp(name, "postgresql", 10) == 0 && is_digit(name[10])) {
		const char *p = name + 10;
		while (is_digit(*p))
			p++;
		if (strcmp(p, "-server") == 0)
			return true;
	}
	if (strncmp(name, "mariadb-server-", 15) == 0 && all_digits_dots(name + 15))
		return true;
	if (strncmp(name, "mysql-server-", 13) == 0 && all_digits_dots(name + 13))
		return true;
	return false;
}

bool probe_kernel_release_of_deb(const char *name, char *out, size_t outsize)
{
	const char *r;

	if (strncmp(name, "linux-image-unsigned-", 21) == 0)
		r = name + 21;
	else if (strncmp(name, "linux-image-", 12) == 0)
		r = name + 12;
	else
		return false;
	if (!is_digit(r[0]))
		return false; /* linux-image-amd64, linux-image-generic: meta packages */
	snprintf(out, outsize, "%s", r);
	return true;
}

/* ---- version comparison ---------------------------------------------------- */

static int deb_order(char c)
{
	if (is_digit(c))
		return 0;
	if (is_alpha(c))
		return c;
	if (c == '~')
		return -1;
	if (c)
		return (unsigned char)c + 256;
	return 0;
}

/* dpkg's verrevcmp over [a, ae) and [b, be). */
static int deb_part_cmp(const char *a, const char *ae, const char *b, const char *be)
{
	while (a < ae || b < be) {
		int first_diff = 0;
		while ((a < ae && !is_digit(*a)) || (b < be && !is_digit(*b))) {
			int ac = a < ae ? deb_order(*a) : 0;
			int bc = b < be ? deb_order(*b) : 0;
			if (ac != bc)
				return ac - bc;
			if (a < ae)
				a++;
			if (b < be)
				b++;
		}
		while (a < ae && *a == '0')
			a++;
		while (b < be && *b == '0')
			b++;
		while (a < ae && b < be && is_digit(*a) && is_digit(*b)) {
			if (!first_diff)
				first_diff = *a - *b;
			a++;
			b++;
		}
		if (a < ae && is_digit(*a))
			return 1;
		if (b < be && is_digit(*b))
			return -1;
		if (first_diff)
			return first_diff;
	}
	return 0;
}

struct debver {
	long epoch;
	const char *up, *up_end, *rev, *rev_end;
};

static void debver_split(const char *v, struct debver *d)
{
	const char *colon = strchr(v, ':');
	const char *end = v + strlen(v);

	d->epoch = 0;
	if (colon) {
		d->epoch = strtol(v, NULL, 10);
		v = colon + 1;
	}
	const char *dash = strrchr(v, '-');
	d->up = v;
	if (dash) {
		d->up_end = dash;
		d->rev = dash + 1;
		d->rev_end = end;
	} else {
		d->up_end = end;
		d->rev = d->rev_end = end;
	}
}

int probe_debian_vercmp(const char *a, const char *b)
{
	struct debver x, y;
	int r;

	debver_split(a, &x);
	debver_split(b, &y);
	if (x.epoch != y.epoch)
		return x.epoch < y.epoch ? -1 : 1;
	r = deb_part_cmp(x.up, x.up_end, y.up, y.up_end);
	if (r)
		return r < 0 ? -1 : 1;
	r = deb_part_cmp(x.rev, x.rev_end, y.rev, y.rev_end);
	return r < 0 ? -1 : (r > 0 ? 1 : 0);
}

static bool rpm_alnum(char c)
{
	return is_digit(c) || is_alpha(c);
}

int probe_rpm_vercmp(const char *a, const char *b)
{
	const char *one = a, *two = b;

	if (strcmp(a, b) == 0)
		return 0;
	while (*one || *two) {
		while (*one && !rpm_alnum(*one) && *one != '~' && *one != '^')
			one++;
		while (*two && !rpm_alnum(*two) && *two != '~' && *two != '^')
			two++;
		if (*one == '~' || *two == '~') {
			if (*one != '~')
				return 1;
			if (*two != '~')
				return -1;
			one++;
			two++;
			continue;
		}
		if (*one == '^' || *two == '^') {
			if (!*one)
				return -1;
			if (!*two)
				return 1;
			if (*one != '^')
				return 1;
			if (*two != '^')
				return -1;
			one++;
			two++;
			continue;
		}
		if (!(*one && *two))
			break;
		const char *s1 = one, *s2 = two;
		bool isnum = is_digit(*s1);
		if (isnum) {
			while (is_digit(*s1))
				s1++;
			while (is_digit(*s2))
				s2++;
		} else {
			while (is_alpha(*s1))
				s1++;
			while (is_alpha(*s2))
				s2++;
		}
		if (two == s2)
			return isnum ? 1 : -1;
		if (isnum) {
			while (*one == '0' && one < s1 - 1)
				one++;
			while (*two == '0' && two < s2 - 1)
				two++;
			if (s1 - one != s2 - two)
				return (s1 - one) > (s2 - two) ? 1 : -1;
		}
		size_t l1 = (size_t)(s1 - one), l2 = (size_t)(s2 - two);
		int rc = strncmp(one, two, l1 < l2 ? l1 : l2);
		if (rc)
			return rc < 0 ? -1 : 1;
		if (l1 != l2)
			return l1 < l2 ? -1 : 1;
		one = s1;
		two = s2;
	}
	if (!*one && !*two)
		return 0;
	return *one ? 1 : -1;
}
