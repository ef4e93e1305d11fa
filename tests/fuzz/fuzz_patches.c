/* libFuzzer target: the patches probe's parsers of package-manager output
 * (probes/patches/parse.h): apt-get -s, dnf updateinfo, dnf check-update,
 * needs-restarting, os-release (and the end-of-life lookup on what it
 * gives), dpkg-query / rpm listings (and the package-name classifiers on
 * every name they return), and the Debian / RPM version comparisons.
 * Every parser gets the same input as a heap copy of exactly size bytes
 * without a terminating NUL, so ASan catches any read past the length.
 * Checked: counts are consistent (security and new installs never exceed
 * pending, kept names = min(security, cap), severities never exceed the
 * advisories), every output string is terminated inside its field, and the
 * version orders are reflexive and antisymmetric with results in {-1,0,1}. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "probes/patches/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TERMINATED(field) (memchr((field), '\0', sizeof(field)) != NULL)

static void check_updates(const struct probe_updates *u)
{
	size_t want = u->security < PROBE_PATCHES_MAX_NAMES ? u->security : PROBE_PATCHES_MAX_NAMES;
	if (u->n_names != want)
		abort();
	for (size_t i = 0; i < u->n_names; i++)
		if (!TERMINATED(u->names[i]))
			abort();
}

static size_t count_lines(const char *s, size_t n)
{
	size_t k = n && s[n - 1] != '\n' ? 1 : 0;
	for (size_t i = 0; i < n; i++)
		k += s[i] == '\n';
	return k;
}

static void check_pkgs(const struct probe_pkg *p, size_t k, size_t max, bool has_nul)
{
	if (k > max)
		abort();
	for (size_t i = 0; i < k; i++) {
		char rel[64];
		if (!TERMINATED(p[i].name) || !TERMINATED(p[i].version))
			abort();
		/* empty fields are skipped (a NUL byte in the input may still
		 * end a field early) */
		if (!has_nul && (!p[i].name[0] || !p[i].version[0]))
			abort();
		(void)probe_is_db_server_package(p[i].name);
		if (probe_kernel_release_of_deb(p[i].name, rel, sizeof(rel)) &&
		    (rel[0] < '0' || rel[0] > '9' || strlen(rel) >= strlen(p[i].name)))
			abort();
	}
}

static int sign(int v)
{
	return (v > 0) - (v < 0);
}

static void check_order(int (*cmp)(const char *, const char *), const char *a, const char *b)
{
	int ab = cmp(a, b), ba = cmp(b, a);
	if (ab < -1 || ab > 1 || ba < -1 || ba > 1)
		abort();
	if (sign(ab) != -sign(ba) || cmp(a, a) != 0 || cmp(b, b) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size ? size : 1); /* exactly size bytes, no NUL */
	if (!text)
		return 0;
	memcpy(text, data, size);

	struct probe_updates u;
	probe_parse_apt_simulate(text, size, &u);
	if (u.security > u.pending || u.new_installs > u.pending ||
	    u.pending > count_lines(text, size))
		abort();
	check_updates(&u);

	probe_parse_dnf_updateinfo(text, size, &u);
	if (u.sev_critical + u.sev_important + u.sev_moderate + u.sev_low > u.advisories ||
	    u.security > count_lines(text, size) || u.advisories > count_lines(text, size))
		abort();
	check_updates(&u);

	memset(&u, 0, sizeof(u));
	probe_parse_dnf_check_update(text, size, &u);
	if (u.pending > count_lines(text, size))
		abort();

	struct probe_os os;
	int r = probe_parse_os_release(text, size, &os);
	if (!TERMINATED(os.id) || !TERMINATED(os.id_like) || !TERMINATED(os.version_id) ||
	    !TERMINATED(os.codename) || !TERMINATED(os.pretty) || (r == 0) != (os.id[0] != '\0'))
		abort();
	const struct probe_eol *e = probe_eol_lookup(&os);
	if (e && (!e->id || !e->date || strlen(e->date) != 10))
		abort();

	static struct probe_pkg pkgs[64];
	bool has_nul = memchr(text, '\0', size) != NULL;
	check_pkgs(pkgs, probe_parse_dpkg_query(text, size, pkgs, 64), 64, has_nul);
	check_pkgs(pkgs, probe_parse_rpm_query(text, size, pkgs, 3), 3, has_nul);

	/* the NUL-terminated forms: needs-restarting's text, and two versions
	 * (the input split at its first newline) */
	char *z = malloc(size + 1);
	if (!z)
		abort();
	memcpy(z, data, size);
	z[size] = '\0';
	r = probe_parse_needs_restarting(size ? data[0] % 3 - 1 : 0, z);
	if (r < -1 || r > 1)
		abort();
	char *nl = memchr(z, '\n', size);
	const char *b = "";
	if (nl) {
		*nl = '\0';
		b = nl + 1;
	}
	check_order(probe_debian_vercmp, z, b);
	check_order(probe_rpm_vercmp, z, b);
	free(z);
	free(text);
	return 0;
}
