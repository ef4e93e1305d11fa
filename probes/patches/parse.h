/* Parsers for the patches probe: pure functions over the text of
 * `apt-get -s dist-upgrade`, `dnf updateinfo list --security`,
 * `dnf check-update`, `needs-restarting -r`, dpkg-query / rpm listings and
 * /etc/os-release, plus Debian and RPM version comparison and the OS
 * end-of-life table. Tested on fixtures (tests/fixtures/patches/). */
#ifndef PROBE_PATCHES_PARSE_H
#define PROBE_PATCHES_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#define PROBE_PATCHES_MAX_NAMES 64

struct probe_updates {
	size_t pending;      /* packages to upgrade or newly install */
	size_t security;     /* of those, from a security pocket / with an advisory */
	size_t new_installs; /* apt: packages the upgrade newly installs */
	size_t advisories;   /* dnf: distinct security advisories */
	size_t sev_critical, sev_important, sev_moderate, sev_low; /* dnf advisories */
	size_t n_names; /* security package names kept (the first ones) */
	char names[PROBE_PATCHES_MAX_NAMES][64];
};

/* `apt-get -s dist-upgrade` (or upgrade): one "Inst NAME [OLD] (NEW ORIGIN:VER/SUITE[, ...]
 * [ARCH])" line per package; security when a SUITE ends in "-security". */
void probe_parse_apt_simulate(const char *text, size_t len, struct probe_updates *ret);
/* `dnf -q updateinfo list --security`: "ADVISORY SEVERITY/Sec. NEVRA" lines;
 * fills security, advisories and the severity counts. */
void probe_parse_dnf_updateinfo(const char *text, size_t len, struct probe_updates *ret);
/* `dnf -q check-update` (exit 100 = updates): "NAME.ARCH VERSION REPO" rows,
 * wrapped rows joined, the "Obsoleting Packages" section ignored. Fills pending. */
void probe_parse_dnf_check_update(const char *text, size_t len, struct probe_updates *ret);
/* `needs-restarting -r`: 1 = reboot required, 0 = not, -1 = cannot tell. */
int probe_parse_needs_restarting(int exit_status, const char *text);

struct probe_os {
	char id[32];
	char id_like[64];
	char version_id[32];
	char codename[32];
	char pretty[128];
};
/* os-release(5) text. 0, or -EINVAL when it has no ID. */
int probe_parse_os_release(const char *text, size_t len, struct probe_os *ret);

struct probe_eol {
	const char *id;      /* os-release ID */
	const char *version; /* VERSION_ID, or its major part */
	const char *date;    /* YYYY-MM-DD: last day of security updates */
	const char *what;    /* which support phase ends then */
};
/* The table entry for os (ID, else each ID_LIKE word, with VERSION_ID or its
 * major version), or NULL when unknown. */
const struct probe_eol *probe_eol_lookup(const struct probe_os *os);
extern const struct probe_eol probe_eol_table[]; /* ends with id == NULL */

struct probe_pkg {
	char name[96];
	char version[96];
};
/* dpkg-query -W -f='${Package}\t${Version}\t${db:Status-Abbrev}\n': installed
 * ("ii") packages only. Returns how many were stored (at most max). */
size_t probe_parse_dpkg_query(const char *text, size_t len, struct probe_pkg *out, size_t max);
/* rpm -q[a] --qf '%{NAME}\t%{VERSION}-%{RELEASE}\n'. */
size_t probe_parse_rpm_query(const char *text, size_t len, struct probe_pkg *out, size_t max);

/* True for database server packages: postgresql-NN, postgresqlNN-server,
 * postgresql-server, mariadb-server[-X.Y], mysql-server[-X.Y],
 * MariaDB-server, mysql-community-server, percona-server-server. */
bool probe_is_db_server_package(const char *name);
/* Kernel release of an installed kernel image package, into out:
 * linux-image-6.1.0-26-amd64 -> 6.1.0-26-amd64 (also linux-image-unsigned-);
 * false for meta packages (linux-image-amd64). */
bool probe_kernel_release_of_deb(const char *name, char *out, size_t outsize);

/* Debian policy version order (epoch:upstream-revision, ~ before anything).
 * <0, 0, >0. */
int probe_debian_vercmp(const char *a, const char *b);
/* rpmvercmp() order of two version-release strings. <0, 0, >0. */
int probe_rpm_vercmp(const char *a, const char *b);

#endif
