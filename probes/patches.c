/* The patches probe: pending and security updates by a simulated upgrade
 * that takes no locks (apt-get -s / dnf -C), reboot required, running vs
 * newest installed kernel, OS end of life (table in probes/patches/parse.c)
 * and the installed database server versions. Every command runs through
 * probe_exec: no shell, clean environment, timeout, bounded output. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <stddef.h>

#include "erpulse/probe.h"
#include "probes/patches/cache.h"
#include "probes/patches/exec.h"
#include "probes/patches/parse.h"

#define MAX_PKGS 4096

static const struct ep_option patches_options[] = {
	{"package_manager", EP_OPT_STRING, "auto", 0, 0,
	 "auto, apt, dnf, yum or none (only reboot flag, kernel, OS end of life)."},
	{"timeout", EP_OPT_DURATION, "120", 1, 3600,
	 "Each command is killed after this long (and never past the probe's deadline)."},
	{"max_output_kb", EP_OPT_INT, "8192", 16, 262144,
	 "A command printing more than this is killed and reported."},
	{"security_critical", EP_OPT_INT, "10", 1, 100000,
	 "security_updates is critical from this many packages (warning from 1)."},
	{"eol_warning_days", EP_OPT_INT, "180", 0, 3650,
	 "os_eol is a warning this many days before the end of security support."},
	{"apt_get", EP_OPT_STRING, "/usr/bin/apt-get", 0, 0, "apt-get to run."},
	{"dpkg_query", EP_OPT_STRING, "/usr/bin/dpkg-query", 0, 0, "dpkg-query to run."},
	{"dnf", EP_OPT_STRING, NULL, 0, 0,
	 "dnf or yum to run (default: /usr/bin/dnf, /usr/bin/yum)."},
	{"rpm", EP_OPT_STRING, "/usr/bin/rpm", 0, 0, "rpm to run."},
	{"needs_restarting", EP_OPT_STRING, "/usr/bin/needs-restarting", 0, 0,
	 "needs-restarting to run (dnf-utils / yum-utils)."},
	{"patches_max_age", EP_OPT_DURATION, "24h", 0, 7 * 86400,
	 "While the simulation's inputs (package database, package lists, package cache, "
	 "repositories, reboot flag) are unchanged, its cached result is reported (with its "
	 "age) and the simulation re-run once the result is this old. 0 = every cycle."},
	{"patches_min_interval", EP_OPT_DURATION, "10m", 0, 86400,
	 "When those inputs changed, the simulation runs again at the first cycle this long "
	 "after its last run (an upgrade touches them many times); a reboot or another "
	 "running kernel re-runs it at once."},
	{"patches_interval", EP_OPT_DURATION, NULL, 0, 7 * 86400,
	 "Former name of patches_max_age (used when patches_max_age is not set)."},
	{.key = NULL},
};

enum pm { PM_AUTO, PM_APT, PM_DNF, PM_NONE };

struct patches_ctx {
	char root[PATH_MAX];
	enum pm pm;
	int64_t timeout_ms;
	size_t max_out;
	int64_t security_critical, eol_warning_days;
	struct probe_patches_policy policy;
	char apt_get[PATH_MAX], dpkg_query[PATH_MAX], dnf[PATH_MAX], rpm[PATH_MAX],
		needs_restarting[PATH_MAX];
};

static bool section_has(const struct ep_config_section *s, const char *key)
{
	for (size_t i = 0; s && i < s->n_entries; i++)
		if (strcmp(s->entries[i].key, key) == 0)
			return true;
	return false;
}

static int patches_init(const struct ep_config_section *section, const struct ep_probe_env *env,
			void **ret_ctx, char *err, size_t errlen)
{
	struct patches_ctx *c = calloc(1, sizeof(*c));
	const char *v;
	int64_t n;
	int r;

	if (!c) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	snprintf(c->root, sizeof(c->root), "%s",
		 env && env->root && strcmp(env->root, "/") != 0 ? env->root : "");
	if ((r = ep_config_get_string(section, patches_options, "package_manager", &v, err,
				      errlen)) < 0)
		goto fail;
	if (strcmp(v, "auto") == 0)
		c->pm = PM_AUTO;
	else if (strcmp(v, "apt") == 0)
		c->pm = PM_APT;
	else if (strcmp(v, "dnf") == 0 || strcmp(v, "yum") == 0)
		c->pm = PM_DNF;
	else if (strcmp(v, "none") == 0)
		c->pm = PM_NONE;
	else {
		snprintf(err, errlen,
			 "[patches] package_manager: '%s' is not auto, apt, dnf, yum or none", v);
		r = -EINVAL;
		goto fail;
	}
	if ((r = ep_config_get_duration(section, patches_options, "timeout", &n, err, errlen)) < 0)
		goto fail;
	c->timeout_ms = n * 1000;
	if ((r = ep_config_get_int(section, patches_options, "max_output_kb", &n, err, errlen)) < 0)
		goto fail;
	c->max_out = (size_t)n * 1024;
	if ((r = ep_config_get_int(section, patches_options, "security_critical",
				   &c->security_critical, err, errlen)) < 0 ||
	    (r = ep_config_get_int(section, patches_options, "eol_warning_days",
				   &c->eol_warning_days, err, errlen)) < 0 ||
	    (r = ep_config_get_duration(section, patches_options, "patches_min_interval",
					&c->policy.min_interval_s, err, errlen)) < 0)
		goto fail;
	/* patches_max_age, else the former patches_interval, else the default */
	r = ep_config_get_duration(section, patches_options, "patches_interval",
				   &c->policy.max_age_s, err, errlen);
	if (r == -ENOENT || (r == 0 && section_has(section, "patches_max_age")))
		r = ep_config_get_duration(section, patches_options, "patches_max_age",
					   &c->policy.max_age_s, err, errlen);
	if (r < 0)
		goto fail;
	static const struct {
		const char *key;
		size_t off;
	} paths[] = {
		{"apt_get", offsetof(struct patches_ctx, apt_get)},
		{"dpkg_query", offsetof(struct patches_ctx, dpkg_query)},
		{"dnf", offsetof(struct patches_ctx, dnf)},
		{"rpm", offsetof(struct patches_ctx, rpm)},
		{"needs_restarting", offsetof(struct patches_ctx, needs_restarting)},
	};
	for (size_t i = 0; i < EP_ARRAY_SIZE(paths); i++) {
		char *dst = (char *)c + paths[i].off;
		r = ep_config_get_string(section, patches_options, paths[i].key, &v, err, errlen);
		if (r == -ENOENT) {
			static const char *const dnfs[] = {"/usr/bin/dnf", "/usr/bin/dnf5",
							   "/usr/bin/yum", NULL};
			const char *found = probe_exec_find(dnfs);
			ep_snprintf(dst, PATH_MAX, "%s", found ? found : "/usr/bin/dnf");
			continue;
		}
		if (r < 0)
			goto fail;
		if (v[0] != '/') {
			snprintf(err, errlen, "[patches] %s: '%s' is not an absolute path",
				 paths[i].key, v);
			r = -EINVAL;
			goto fail;
		}
		ep_snprintf(dst, PATH_MAX, "%s", v);
	}
	*ret_ctx = c;
	return 0;
fail:
	free(c);
	return r;
}

static void patches_fini(void *ctx)
{
	free(ctx);
}

struct run {
	struct patches_ctx *c;
	const struct ep_deadline *deadline;
	json_t *commands;
};

/* Runs a command; records it in metrics.commands. Returns probe_exec's code
 * and fills what on failure with a sentence. */
static int run_cmd(struct run *R, const char *const argv[], struct ep_buf *out,
		   struct probe_exec_result *res, char *what, size_t whatlen)
{
	int64_t left = ep_deadline_left_ms(R->deadline) - 500;
	int64_t t = R->c->timeout_ms < left ? R->c->timeout_ms : left;
	char line[512] = "";
	size_t k = 0;
	int r;

	for (size_t i = 0; argv[i] && k + 1 < sizeof(line); i++) {
		int w = snprintf(line + k, sizeof(line) - k, "%s%s", i ? " " : "", argv[i]);
		if (w < 0)
			break;
		k += (size_t)w;
		if (k >= sizeof(line))
			k = sizeof(line) - 1;
	}
	if (t <= 0) {
		memset(res, 0, sizeof(*res));
		ep_buf_init(out, 1);
		r = -ETIMEDOUT;
	} else {
		r = probe_exec(argv, t, R->c->max_out, out, res);
	}
	const char *status;
	switch (r) {
	case 0:
		status = "ok";
		break;
	case -ENOENT:
		status = "missing";
		snprintf(what, whatlen, "%s is not installed (%s not found)", argv[0], argv[0]);
		break;
	case -ETIMEDOUT:
		status = "timeout";
		snprintf(what, whatlen, "'%s' did not finish within %" PRId64 " s and was killed",
			 line, t / 1000);
		break;
	case -E2BIG:
		status = "too_much_output";
		snprintf(what, whatlen, "'%s' printed more than %zu KiB and was killed", line,
			 R->c->max_out / 1024);
		break;
	default:
		status = "error";
		snprintf(what, whatlen, "cannot run %s: %s", argv[0], strerror(-r));
		break;
	}
	json_t *e = json_pack("{s:s, s:s, s:I, s:I}", "command", line, "status", status, "exit",
			      (json_int_t)res->exit_status, "duration_ms",
			      (json_int_t)res->duration_ms);
	if (e)
		json_array_append_new(R->commands, e);
	return r;
}

static json_t *names_json(const struct probe_updates *u)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < u->n_names; i++)
		json_array_append_new(a, json_string(u->names[i]));
	return a;
}

static bool path_exists(const char *root, const char *p)
{
	char full[PATH_MAX];
	struct stat st;
	return ep_snprintf(full, sizeof(full), "%s%s", root, p) == 0 && stat(full, &st) == 0;
}

/* Reads root/path (small files only). */
static char *read_small(const char *root, const char *p, size_t *len)
{
	char full[PATH_MAX];
	char *data = NULL;
	if (ep_snprintf(full, sizeof(full), "%s%s", root, p) < 0)
		return NULL;
	if (ep_read_file(full, 256 * 1024, &data, len) < 0)
		return NULL;
	return data;
}

static void add(struct ep_probe_result *r, const char *kind, const char *object, double value,
		const char *unit, double threshold, enum ep_severity sev, const char *method,
		const char *message, const char *remediation)
{
	struct ep_finding f = {.kind = kind,
			       .object = object,
			       .value = value,
			       .unit = unit,
			       .threshold = threshold,
			       .severity = sev,
			       .method = method,
			       .message = message,
			       .remediation = remediation};
	if (ep_probe_add_finding(r, &f) < 0)
		ep_probe_fail(r, EP_STATUS_ERROR, "out of memory");
}

static void updates_findings(struct patches_ctx *c, struct ep_probe_result *result,
			     const char *host, const struct probe_updates *u, const char *method,
			     const char *fix)
{
	char msg[512];
	enum ep_severity sev = u->security == 0                               ? EP_SEV_INFO
			       : (int64_t)u->security >= c->security_critical ? EP_SEV_CRITICAL
									      : EP_SEV_WARNING;
	snprintf(msg, sizeof(msg), "%zu package%s with security updates pending%s%s%s", u->security,
		 u->security == 1 ? "" : "s", u->n_names ? " (" : "", u->n_names ? u->names[0] : "",
		 u->n_names > 1 ? ", ...)" : (u->n_names ? ")" : ""));
	add(result, "security_updates", host, (double)u->security, "count", 1, sev, method, msg,
	    u->security ? fix : NULL);
	snprintf(msg, sizeof(msg), "%zu package update%s pending", u->pending,
		 u->pending == 1 ? "" : "s");
	add(result, "pending_updates", host, (double)u->pending, "count", NAN,
	    u->pending ? EP_SEV_INFO : EP_SEV_INFO, method, msg, u->pending ? fix : NULL);
}

static void run_apt(struct run *R, struct ep_probe_result *result, const char *host, json_t *m)
{
	const char *argv[] = {R->c->apt_get,
			      "-s",
			      "-q",
			      "-o",
			      "Debug::NoLocking=1",
			      "-o",
			      "APT::Get::Show-User-Simulation-Note=false",
			      "dist-upgrade",
			      NULL};
	struct ep_buf out;
	struct probe_exec_result res;
	char what[768];
	int r = run_cmd(R, argv, &out, &res, what, sizeof(what));

	if (r == 0 && res.exit_status != 0) {
		ep_probe_fail(result, EP_STATUS_ERROR, "apt-get -s dist-upgrade exited with %d: %s",
			      res.exit_status, res.err);
	} else if (r < 0) {
		ep_probe_fail(result, EP_STATUS_ERROR, "%s", what);
	} else {
		struct probe_updates u;
		probe_parse_apt_simulate(out.data ? out.data : "", out.len, &u);
		json_object_set_new(m, "pending_updates", json_integer((json_int_t)u.pending));
		json_object_set_new(m, "security_updates", json_integer((json_int_t)u.security));
		json_object_set_new(m, "new_installs", json_integer((json_int_t)u.new_installs));
		json_object_set_new(m, "security_packages", names_json(&u));
		updates_findings(
			R->c, result, host, &u, "apt-get -s dist-upgrade",
			"apt-get update && apt-get dist-upgrade (in a maintenance window)");
	}
	ep_buf_free(&out);
}

/* How fresh apt's package lists are: the agent never runs apt-get update.
 * Measured every cycle, also when the simulation's result is cached. */
static void apt_lists_age(const struct patches_ctx *c, json_t *m)
{
	char full[PATH_MAX];
	struct stat st;
	if (ep_snprintf(full, sizeof(full), "%s/var/lib/apt/lists", c->root) == 0 &&
	    stat(full, &st) == 0)
		json_object_set_new(m, "package_lists_age_h",
				    json_integer((json_int_t)((time(NULL) - st.st_mtime) / 3600)));
}

static void run_dnf(struct run *R, struct ep_probe_result *result, const char *host, json_t *m)
{
	const char *info[] = {R->c->dnf, "-q", "-C", "updateinfo", "list", "--security", NULL};
	const char *check[] = {R->c->dnf, "-q", "-C", "check-update", NULL};
	struct ep_buf out;
	struct probe_exec_result res;
	struct probe_updates u, pend;
	char what[768];
	int r;

	memset(&pend, 0, sizeof(pend));
	r = run_cmd(R, check, &out, &res, what, sizeof(what));
	if (r < 0) {
		ep_probe_fail(result, EP_STATUS_ERROR, "%s", what);
		ep_buf_free(&out);
		return;
	}
	if (res.exit_status != 0 && res.exit_status != 100) {
		ep_probe_fail(result, EP_STATUS_ERROR, "dnf check-update exited with %d: %s",
			      res.exit_status, res.err);
		ep_buf_free(&out);
		return;
	}
	if (res.exit_status == 100)
		probe_parse_dnf_check_update(out.data ? out.data : "", out.len, &pend);
	ep_buf_free(&out);
	r = run_cmd(R, info, &out, &res, what, sizeof(what));
	if (r < 0 || res.exit_status != 0) {
		if (r == 0)
			ep_probe_fail(result, EP_STATUS_ERROR, "dnf updateinfo exited with %d: %s",
				      res.exit_status, res.err);
		else
			ep_probe_fail(result, EP_STATUS_ERROR, "%s", what);
		ep_buf_free(&out);
		return;
	}
	probe_parse_dnf_updateinfo(out.data ? out.data : "", out.len, &u);
	ep_buf_free(&out);
	u.pending = pend.pending;
	json_object_set_new(m, "pending_updates", json_integer((json_int_t)u.pending));
	json_object_set_new(m, "security_updates", json_integer((json_int_t)u.security));
	json_object_set_new(m, "security_advisories", json_integer((json_int_t)u.advisories));
	json_object_set_new(m, "advisories_by_severity",
			    json_pack("{s:I, s:I, s:I, s:I}", "critical",
				      (json_int_t)u.sev_critical, "important",
				      (json_int_t)u.sev_important, "moderate",
				      (json_int_t)u.sev_moderate, "low", (json_int_t)u.sev_low));
	json_object_set_new(m, "security_packages", names_json(&u));
	updates_findings(R->c, result, host, &u, "dnf updateinfo --security",
			 "dnf upgrade --security (in a maintenance window)");
}

/* Reboot flag: Debian's /run/reboot-required, else needs-restarting -r. */
static void reboot_check(struct run *R, struct ep_probe_result *result, const char *host, json_t *m,
			 enum pm pm)
{
	int reboot = -1;
	char msg[768] = "";
	const char *method = "/run/reboot-required";

	if (path_exists(R->c->root, "/var/run/reboot-required") ||
	    path_exists(R->c->root, "/run/reboot-required")) {
		size_t len = 0;
		char *pk = read_small(R->c->root, "/var/run/reboot-required.pkgs", &len);
		if (!pk)
			pk = read_small(R->c->root, "/run/reboot-required.pkgs", &len);
		json_t *a = json_array();
		size_t k = 0;
		for (char *p = pk, *nl; p && *p && k < 50; p = nl ? nl + 1 : p + strlen(p), k++) {
			nl = strchr(p, '\n');
			if (nl)
				*nl = '\0';
			if (*p && ep_utf8_valid(p, strlen(p)))
				json_array_append_new(a, json_string(p));
			if (!nl)
				break;
		}
		free(pk);
		json_object_set_new(m, "reboot_packages", a);
		reboot = 1;
		snprintf(msg, sizeof(msg), "a reboot is required (%zu package%s asked for it)",
			 json_array_size(a), json_array_size(a) == 1 ? "" : "s");
	} else if (pm == PM_APT) {
		reboot = 0;
		snprintf(msg, sizeof(msg), "no reboot required");
	} else if (pm == PM_DNF) {
		const char *argv[] = {R->c->needs_restarting, "-r", NULL};
		struct ep_buf out;
		struct probe_exec_result res;
		char what[768];
		method = "needs-restarting -r";
		if (run_cmd(R, argv, &out, &res, what, sizeof(what)) == 0) {
			reboot = probe_parse_needs_restarting(res.exit_status, out.data);
			snprintf(msg, sizeof(msg), "%s",
				 reboot == 1 ? "a reboot is required (needs-restarting -r)"
					     : "no reboot required (needs-restarting -r)");
		} else {
			json_object_set_new(m, "reboot_check_error", json_string(what));
		}
		ep_buf_free(&out);
	}
	if (reboot < 0)
		return;
	json_object_set_new(m, "reboot_required", json_boolean(reboot == 1));
	add(result, "reboot_required", host, reboot, "bool", NAN,
	    reboot ? EP_SEV_WARNING : EP_SEV_INFO, method, msg,
	    reboot ? "Reboot the host in the next maintenance window" : NULL);
}

static void kernel_and_db(struct run *R, struct ep_probe_result *result, const char *host,
			  json_t *m, enum pm pm, const char *running)
{
	struct probe_pkg *pk = calloc(MAX_PKGS, sizeof(*pk));
	struct ep_buf out;
	struct probe_exec_result res;
	char what[768];
	size_t n = 0;
	int r;

	if (!pk)
		return;
	if (pm == PM_APT) {
		const char *argv[] = {R->c->dpkg_query,
				      "-W",
				      "-f=${Package}\\t${Version}\\t${db:Status-Abbrev}\\n",
				      "linux-image-*",
				      "postgresql-*",
				      "mariadb-server*",
				      "mysql-server*",
				      "percona-server-server*",
				      NULL};
		r = run_cmd(R, argv, &out, &res, what, sizeof(what));
		/* exit 1: some pattern matched nothing; the rest is listed */
		if (r == 0 && res.exit_status <= 1)
			n = probe_parse_dpkg_query(out.data ? out.data : "", out.len, pk, MAX_PKGS);
		else
			json_object_set_new(m, "package_query_error",
					    json_string(r < 0 ? what : res.err));
	} else if (pm == PM_DNF) {
		const char *argv[] = {R->c->rpm, "-qa", "--qf",
				      "%{NAME}\\t%{VERSION}-%{RELEASE}\\n", NULL};
		r = run_cmd(R, argv, &out, &res, what, sizeof(what));
		if (r == 0 && res.exit_status == 0)
			n = probe_parse_rpm_query(out.data ? out.data : "", out.len, pk, MAX_PKGS);
		else
			json_object_set_new(m, "package_query_error",
					    json_string(r < 0 ? what : res.err));
	} else {
		free(pk);
		return;
	}
	ep_buf_free(&out);

	/* database servers */
	json_t *db = json_array();
	for (size_t i = 0; db && i < n; i++)
		if (probe_is_db_server_package(pk[i].name))
			json_array_append_new(db, json_pack("{s:s, s:s}", "package", pk[i].name,
							    "version", pk[i].version));
	json_object_set_new(m, "database_packages", db);

	/* newest installed kernel */
	char newest[128] = "", newest_ver[128] = "", rel[128];
	size_t kernels = 0;
	for (size_t i = 0; i < n; i++) {
		if (pm == PM_APT) {
			if (!probe_kernel_release_of_deb(pk[i].name, rel, sizeof(rel)))
				continue;
			kernels++;
			if (!newest[0] || probe_debian_vercmp(pk[i].version, newest_ver) > 0) {
				snprintf(newest, sizeof(newest), "%s", rel);
				snprintf(newest_ver, sizeof(newest_ver), "%s", pk[i].version);
			}
		} else if (strcmp(pk[i].name, "kernel-core") == 0 ||
			   strcmp(pk[i].name, "kernel") == 0) {
			kernels++;
			if (!newest[0] || probe_rpm_vercmp(pk[i].version, newest) > 0)
				snprintf(newest, sizeof(newest), "%s", pk[i].version);
		}
	}
	json_object_set_new(m, "kernel_running", json_string(running));
	json_object_set_new(m, "kernel_packages", json_integer((json_int_t)kernels));
	if (kernels) {
		bool outdated;
		json_object_set_new(m, "kernel_newest", json_string(newest));
		if (pm == PM_APT)
			outdated = strcmp(newest, running) != 0;
		else /* uname -r of an RPM kernel is VERSION-RELEASE.ARCH */
			outdated = strncmp(running, newest, strlen(newest)) != 0;
		char msg[512];
		snprintf(msg, sizeof(msg), "running kernel %s, newest installed %s", running,
			 newest);
		add(result, "kernel_outdated", host, outdated, "bool", NAN,
		    outdated ? EP_SEV_WARNING : EP_SEV_INFO,
		    pm == PM_APT ? "uname + dpkg-query" : "uname + rpm -q", msg,
		    outdated ? "Reboot into the newest installed kernel" : NULL);
	}
	free(pk);
}

static void os_eol(struct run *R, struct ep_probe_result *result, const char *host, json_t *m)
{
	size_t len = 0;
	char *text = read_small(R->c->root, "/etc/os-release", &len);
	struct probe_os os;

	if (!text)
		text = read_small(R->c->root, "/usr/lib/os-release", &len);
	if (!text || probe_parse_os_release(text, len, &os) < 0) {
		free(text);
		json_object_set_new(m, "os", json_null());
		return;
	}
	free(text);
	json_object_set_new(m, "os",
			    json_pack("{s:s, s:s, s:s}", "id", os.id, "version_id", os.version_id,
				      "pretty_name", os.pretty));
	const struct probe_eol *e = probe_eol_lookup(&os);
	if (!e) {
		json_object_set_new(m, "os_eol", json_null());
		return;
	}
	struct tm tm = {0};
	if (!strptime(e->date, "%Y-%m-%d", &tm))
		return;
	time_t eol = timegm(&tm) + 86400; /* the end of that day */
	double days = floor(difftime(eol, time(NULL)) / 86400.0);
	json_object_set_new(m, "os_eol", json_string(e->date));
	char msg[512];
	enum ep_severity sev = days < 0                                 ? EP_SEV_CRITICAL
			       : days <= (double)R->c->eol_warning_days ? EP_SEV_WARNING
									: EP_SEV_INFO;
	if (days < 0)
		snprintf(msg, sizeof(msg), "%s: security support (%s) ended on %s", os.pretty,
			 e->what, e->date);
	else
		snprintf(msg, sizeof(msg), "%s: security support (%s) ends on %s, in %.0f days",
			 os.pretty, e->what, e->date, days);
	add(result, "os_eol", host, days, "days", (double)R->c->eol_warning_days, sev,
	    "os-release + EOL table", msg,
	    sev != EP_SEV_INFO ? "Plan the upgrade to a supported release" : NULL);
}

/* ---- the cached simulation ----------------------------------------------
 * The package manager's simulation costs seconds of CPU and ~85 MB (apt-get
 * -s dist-upgrade); its inputs change a few times a day. The result of the
 * expensive part (updates, reboot check, kernel and database packages) is
 * kept in the instance's state with fingerprints of those inputs and reused
 * as probes/patches/cache.c decides (docs/probes-host.md). */

/* Copies every metric and finding of from into to (deep copies). */
static void merge_into(struct ep_probe_result *to, json_t *metrics, json_t *findings)
{
	const char *k;
	json_t *v;
	size_t i;

	json_object_foreach(metrics, k, v)
	{
		json_object_set_new(to->metrics, k, json_deep_copy(v));
	}
	json_array_foreach(findings, i, v)
	{
		if (ep_findings_append(to->findings, json_deep_copy(v)) < 0) {
			ep_probe_fail(to, EP_STATUS_ERROR, "out of memory");
			return;
		}
	}
}

static void patches_run(void *ctx, const struct ep_deadline *deadline,
			struct ep_probe_result *result)
{
	struct patches_ctx *c = ctx;
	struct run R = {.c = c, .deadline = deadline, .commands = json_array()};
	struct utsname un;
	json_t *m = result->metrics;
	enum pm pm = c->pm;
	time_t now = time(NULL);

	if (uname(&un) < 0)
		memset(&un, 0, sizeof(un));
	const char *host = un.nodename[0] ? un.nodename : "host";
	snprintf(result->target, sizeof(result->target), "%s", host);
	if (pm == PM_AUTO) {
		if (access(c->apt_get, X_OK) == 0)
			pm = PM_APT;
		else if (access(c->dnf, X_OK) == 0)
			pm = PM_DNF;
		else
			pm = PM_NONE;
	}
	json_object_set_new(m, "package_manager",
			    json_string(pm == PM_APT   ? "apt"
					: pm == PM_DNF ? "dnf"
						       : "none"));
	os_eol(&R, result, host, m);
	if (pm == PM_APT)
		apt_lists_age(c, m);
	if (pm == PM_NONE) {
		reboot_check(&R, result, host, m, pm);
	} else {
		char inputs[2048], boot[512];
		int64_t age = 0;
		bool dnf = pm == PM_DNF;
		json_t *cache = json_object_get(result->state, "cache");
		enum probe_patches_decision d = PROBE_PATCHES_RUN_FIRST;

		if (probe_patches_inputs_fingerprint(c->root, dnf, inputs, sizeof(inputs)) == 0 &&
		    probe_patches_boot_fingerprint(c->root, dnf, un.release, boot, sizeof(boot)) ==
			    0)
			d = probe_patches_decide(&c->policy, cache, inputs, boot, (int64_t)now,
						 &age);
		else
			inputs[0] = boot[0] = '\0'; /* cannot tell: run, cache nothing */
		if (!probe_patches_decision_runs(d)) {
			merge_into(result, json_object_get(cache, "metrics"),
				   json_object_get(cache, "findings"));
			json_object_set_new(m, "cached", json_true());
			json_object_set_new(m, "cache_age_s", json_integer(age));
			/* inputs changed: re-run once patches_min_interval has passed */
			json_object_set_new(m, "cache_inputs_changed",
					    json_boolean(d == PROBE_PATCHES_CACHED_PENDING));
		} else {
			/* the expensive part, into a scratch result kept for the next cycles */
			struct ep_probe_result scratch = {.status = EP_STATUS_OK,
							  .metrics = json_object(),
							  .findings = json_array()};
			if (!scratch.metrics || !scratch.findings) {
				ep_probe_fail(result, EP_STATUS_ERROR, "out of memory");
			} else {
				if (pm == PM_APT)
					run_apt(&R, &scratch, host, scratch.metrics);
				else
					run_dnf(&R, &scratch, host, scratch.metrics);
				reboot_check(&R, &scratch, host, scratch.metrics, pm);
				kernel_and_db(&R, &scratch, host, scratch.metrics, pm, un.release);
				merge_into(result, scratch.metrics, scratch.findings);
				if (scratch.status != EP_STATUS_OK)
					ep_probe_fail(result, scratch.status, "%s", scratch.error);
				json_object_set_new(m, "cached", json_false());
				json_object_set_new(m, "cache_run_reason",
						    json_string(probe_patches_decision_name(d)));
				if (scratch.status == EP_STATUS_OK && c->policy.max_age_s > 0 &&
				    inputs[0] && json_is_object(result->state))
					json_object_set_new(result->state, "cache",
							    json_pack("{s:s, s:s, s:I, s:O, s:O}",
								      "inputs", inputs, "boot",
								      boot, "at", (json_int_t)now,
								      "metrics", scratch.metrics,
								      "findings",
								      scratch.findings));
				else if (json_is_object(result->state))
					json_object_del(result->state, "cache");
			}
			json_decref(scratch.metrics);
			json_decref(scratch.findings);
		}
	}
	json_object_set_new(m, "commands", R.commands);
	if (pm == PM_NONE && c->pm == PM_AUTO && result->status == EP_STATUS_OK)
		json_object_set_new(m, "note",
				    json_string("neither apt-get nor dnf/yum found: "
						"updates not checked"));
}

static int patches_check(void *ctx, const struct ep_deadline *deadline, char *err, size_t errlen)
{
	struct patches_ctx *c = ctx;
	(void)deadline;
	if (c->pm == PM_APT && access(c->apt_get, X_OK) < 0) {
		snprintf(err, errlen, "[patches] %s: %s", c->apt_get, strerror(errno));
		return -errno;
	}
	if (c->pm == PM_DNF && access(c->dnf, X_OK) < 0) {
		snprintf(err, errlen, "[patches] %s: %s", c->dnf, strerror(errno));
		return -errno;
	}
	return 0;
}

const struct ep_probe ep_probe_patches = {
	.name = "patches",
	.summary = "pending and security updates, reboot required, kernel, OS end of life, "
		   "database server versions",
	.options = patches_options,
	.enabled_by_default = 0,
	.init = patches_init,
	.check = patches_check,
	.run = patches_run,
	.fini = patches_fini,
};
