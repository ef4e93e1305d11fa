/* The patches probe's parsers over fixtures in tests/fixtures/patches/:
 * apt-get -s captured on this Debian 12 machine and an Ubuntu 22.04 one
 * written in apt's documented "Inst" format, dnf 4 / dnf 5 updateinfo,
 * dnf check-update, needs-restarting, os-release, dpkg-query and rpm
 * listings; version ordering; the EOL table. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "erpulse/util.h"
#include "probes/patches/parse.h"

static char *fixture(const char *name, size_t *len)
{
	const char *src = getenv("ERPULSE_SRCDIR");
	char path[4096];
	char *data = NULL;

	snprintf(path, sizeof(path), "%s/tests/fixtures/patches/%s", src ? src : ".", name);
	if (ep_read_file(path, 4 << 20, &data, len) < 0)
		fail_msg("cannot read %s", path);
	return data;
}

static void expect(const char *expected_file, const char *got)
{
	size_t len;
	char *want = fixture(expected_file, &len);
	while (len > 0 && want[len - 1] == '\n')
		want[--len] = '\0';
	assert_string_equal(got, want);
	free(want);
}

static void check_apt(const char *name)
{
	char fn[128], got[128];
	size_t len;
	struct probe_updates u;

	snprintf(fn, sizeof(fn), "%s.txt", name);
	char *text = fixture(fn, &len);
	probe_parse_apt_simulate(text, len, &u);
	snprintf(got, sizeof(got), "pending=%zu security=%zu", u.pending, u.security);
	snprintf(fn, sizeof(fn), "%s.expected", name);
	expect(fn, got);
	assert_true(u.n_names ==
		    (u.security < PROBE_PATCHES_MAX_NAMES ? u.security : PROBE_PATCHES_MAX_NAMES));
	free(text);
}

static void test_apt(void **state)
{
	struct probe_updates u;
	size_t len;
	(void)state;
	check_apt("apt-debian12-dist-upgrade");
	check_apt("apt-ubuntu2204-upgrade");
	char *text = fixture("apt-ubuntu2204-upgrade.txt", &len);
	probe_parse_apt_simulate(text, len, &u);
	assert_int_equal(u.new_installs, 3);
	assert_string_equal(u.names[0], "libssl3");
	assert_string_equal(u.names[4], "linux-image-5.15.0-92-generic");
	free(text);
	/* the "Conf" lines and the summary never count; an empty run is zero */
	probe_parse_apt_simulate("", 0, &u);
	assert_int_equal(u.pending, 0);
	/* "-security" in the version or package name is not a security pocket */
	const char *tricky = "Inst foo-security [1] (2 Debian:12/stable [amd64])\n"
			     "Inst bar [1] (2-security Debian:12/stable [amd64])\n";
	probe_parse_apt_simulate(tricky, strlen(tricky), &u);
	assert_int_equal(u.pending, 2);
	assert_int_equal(u.security, 0);
}

static void check_dnf(const char *name)
{
	char fn[128], got[256];
	size_t len;
	struct probe_updates u;

	snprintf(fn, sizeof(fn), "%s.txt", name);
	char *text = fixture(fn, &len);
	probe_parse_dnf_updateinfo(text, len, &u);
	snprintf(got, sizeof(got),
		 "security=%zu advisories=%zu critical=%zu important=%zu moderate=%zu low=%zu",
		 u.security, u.advisories, u.sev_critical, u.sev_important, u.sev_moderate,
		 u.sev_low);
	snprintf(fn, sizeof(fn), "%s.expected", name);
	expect(fn, got);
	free(text);
}

static void test_dnf(void **state)
{
	size_t len;
	struct probe_updates u;
	char got[64];
	(void)state;
	check_dnf("dnf4-updateinfo-security");
	check_dnf("dnf5-advisory-list-security");
	char *text = fixture("dnf-check-update.txt", &len);
	memset(&u, 0, sizeof(u));
	probe_parse_dnf_check_update(text, len, &u);
	snprintf(got, sizeof(got), "pending=%zu", u.pending);
	expect("dnf-check-update.expected", got);
	free(text);
}

static void test_needs_restarting(void **state)
{
	size_t len;
	(void)state;
	char *yes = fixture("needs-restarting-yes.txt", &len);
	char *no = fixture("needs-restarting-no.txt", &len);
	assert_int_equal(probe_parse_needs_restarting(1, yes), 1);
	assert_int_equal(probe_parse_needs_restarting(0, no), 0);
	assert_int_equal(probe_parse_needs_restarting(1, ""), 1);
	assert_int_equal(probe_parse_needs_restarting(2, ""), -1);
	free(yes);
	free(no);
}

static void test_os_release_eol(void **state)
{
	size_t len;
	struct probe_os os;
	const struct probe_eol *e;
	(void)state;

	char *t = fixture("os-release-debian12", &len);
	assert_int_equal(probe_parse_os_release(t, len, &os), 0);
	assert_string_equal(os.id, "debian");
	assert_string_equal(os.version_id, "12");
	assert_string_equal(os.pretty, "Debian GNU/Linux 12 (bookworm)");
	assert_non_null(e = probe_eol_lookup(&os));
	assert_string_equal(e->date, "2028-06-30");
	free(t);

	t = fixture("os-release-rocky9", &len);
	assert_int_equal(probe_parse_os_release(t, len, &os), 0);
	assert_string_equal(os.id, "rocky");
	assert_string_equal(os.id_like, "rhel centos fedora");
	assert_non_null(e = probe_eol_lookup(&os)); /* 9.3 -> major 9 */
	assert_string_equal(e->date, "2032-05-31");
	free(t);

	t = fixture("os-release-ubuntu2204", &len);
	assert_int_equal(probe_parse_os_release(t, len, &os), 0);
	assert_string_equal(os.codename, "jammy");
	assert_non_null(e = probe_eol_lookup(&os));
	assert_string_equal(e->version, "22.04");
	free(t);

	t = fixture("os-release-oracle9", &len); /* ID_LIKE fedora, not in the table as ol */
	assert_int_equal(probe_parse_os_release(t, len, &os), 0);
	assert_null(probe_eol_lookup(&os));
	free(t);

	assert_int_equal(probe_parse_os_release("NAME=x\n", 7, &os), -EINVAL);
	const char *q = "ID=\"my\\\"os\"\nVERSION_ID='1'\n";
	assert_int_equal(probe_parse_os_release(q, strlen(q), &os), 0);
	assert_string_equal(os.id, "my\"os");
	assert_string_equal(os.version_id, "1");
	/* every table date parses and the table is sorted per distribution */
	for (const struct probe_eol *x = probe_eol_table; x->id; x++)
		assert_int_equal(strlen(x->date), 10);
}

static void test_packages(void **state)
{
	size_t len, n;
	struct probe_pkg pk[64];
	char rel[64];
	(void)state;

	char *t = fixture("dpkg-query-kernels.txt", &len);
	n = probe_parse_dpkg_query(t, len, pk, 64);
	assert_int_equal(n, 5); /* the "rc" (removed) kernel is not installed */
	assert_true(probe_kernel_release_of_deb(pk[1].name, rel, sizeof(rel)));
	assert_string_equal(rel, "6.1.0-26-amd64");
	assert_false(probe_kernel_release_of_deb("linux-image-amd64", rel, sizeof(rel)));
	assert_true(probe_is_db_server_package(pk[3].name));
	assert_false(probe_is_db_server_package(pk[4].name));
	free(t);

	t = fixture("dpkg-query-debian12.txt", &len);
	n = probe_parse_dpkg_query(t, len, pk, 64);
	size_t db = 0;
	for (size_t i = 0; i < n; i++)
		db += probe_is_db_server_package(pk[i].name);
	assert_int_equal(db, 2); /* mariadb-server, postgresql-15 on this machine */
	free(t);

	t = fixture("rpm-qa.txt", &len);
	n = probe_parse_rpm_query(t, len, pk, 64);
	assert_int_equal(n, 5);
	db = 0;
	for (size_t i = 0; i < n; i++)
		db += probe_is_db_server_package(pk[i].name);
	assert_int_equal(db, 3);
	free(t);
	assert_false(probe_is_db_server_package("postgresql-client-15"));
	assert_false(probe_is_db_server_package("postgresql-15-pgvector"));
	assert_true(probe_is_db_server_package("mariadb-server-10.6"));
	assert_false(probe_is_db_server_package("mariadb-server-core"));
}

static void test_vercmp(void **state)
{
	(void)state;
	assert_true(probe_debian_vercmp("6.1.112-1", "6.1.106-3") > 0);
	assert_true(probe_debian_vercmp("1:1.0", "2.0") > 0);
	assert_true(probe_debian_vercmp("1.0~rc1", "1.0") < 0);
	assert_true(probe_debian_vercmp("1.0", "1.0-1") < 0);
	assert_true(probe_debian_vercmp("1.0a", "1.0") > 0);
	assert_true(probe_debian_vercmp("15.8-0+deb12u1", "15.8-0+deb12u1") == 0);
	assert_true(probe_debian_vercmp("2.30-1+b1", "2.30-1") > 0);
	assert_true(probe_debian_vercmp("1.0.0", "1.0") > 0);
	assert_true(probe_rpm_vercmp("5.14.0-362.18.1.el9_3", "5.14.0-362.8.1.el9_3") > 0);
	assert_true(probe_rpm_vercmp("1.0~rc1", "1.0") < 0);
	assert_true(probe_rpm_vercmp("1.0", "1.0") == 0);
	assert_true(probe_rpm_vercmp("1.0a", "1.0") > 0);
	assert_true(probe_rpm_vercmp("1.010", "1.9") > 0);
	assert_true(probe_rpm_vercmp("2.0", "2a") > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_apt),
		cmocka_unit_test(test_dnf),
		cmocka_unit_test(test_needs_restarting),
		cmocka_unit_test(test_os_release_eol),
		cmocka_unit_test(test_packages),
		cmocka_unit_test(test_vercmp),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
