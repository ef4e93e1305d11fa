/* erpulse-collector: entry point, admin CLI and `serve` (docs/collector.md). */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <curl/curl.h>

#include "collector/analysis/alerts.h"
#include "collector/analysis/analysis.h"
#include "collector/cli.h"
#include "collector/http/server.h"
#include "collector/service/cli.h"
#include "collector/settings.h"
#include "collector/store/store.h"
#include "collector/store/thresholds.h"
#include "collector/web/i18n.h"
#include "erpulse/crypto.h"
#include "erpulse/log.h"
#include "erpulse/util.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: erpulse-collector [--config PATH] [--store URL] COMMAND\n"
		"  serve                              run the HTTP(S) server (foreground)\n"
		"  check-config                       validate the configuration, try the store\n"
		"  migrate [--to N]                   apply store migrations (up to version N) and "
		"exit\n"
		"  customer add NAME                  create a customer\n"
		"  customer list                      list customers and their scores\n"
		"  customer threshold CUSTOMER KIND [warning=N] [critical=N] [min_size=N]\n"
		"                                     override the agent's lines for KIND at\n"
		"                                     CUSTOMER (none given: remove; "
		"docs/scoring.md)\n"
		"  customer thresholds [CUSTOMER]     list the overrides\n"
		"  token create CUSTOMER [--uses N] [--expires 7d]\n"
		"                                     create an enrollment token (printed once)\n"
		"  customer rename CUSTOMER NAME      rename a customer\n"
		"  customer archive CUSTOMER          archive it: hosts revoked, tokens used up\n"
		"  token list | token revoke ID | token rotate ID\n"
		"                                     enrollment tokens (ID: from token list)\n"
		"  agent list                         list enrolled agents\n"
		"  host production ID yes|no          whether a host counts in its customer's "
		"score\n"
		"  host label ID TEXT                 a label for the host (\"\" clears it)\n"
		"  host archive ID                    archive it (revoked; history kept)\n"
		"  agent revoke ID                    revoke an agent (its reports get 403)\n"
		"  user add NAME --role vendor|support|vendor_viewer|viewer|customer_admin\n"
		"           [--customer C]        create an API user; prints its token once\n"
		"  user list | user revoke NAME | user rotate NAME\n"
		"                                     API users; rotate prints a new token once\n"
		"  (every listing takes --json)\n"
		"  scores [--limit N] [--customer C] [--band B] [--after CURSOR]\n"
		"                                     the fleet's risk table, worst first (with\n"
		"                                     --limit: the N worst hosts and the next "
		"page's cursor)\n"
		"  sweep [--now EPOCH] [--retention]  run the dead-man sweep once (tests: a "
		"clock)\n"
		"  customer tier CUSTOMER TIER        set a customer's service tier\n"
		"  incident list [--state S] [--customer C] [--json]\n"
		"                                     the triage queue (or incidents in state S)\n"
		"  incident show ID [--json]          one incident with its timeline\n"
		"  incident ack|assign|comment|wait|resume|resolve|close|reopen|snooze ID [...]\n"
		"                                     act on an incident (see docs/incidents.md)\n"
		"  incident escalate                  check SLA clocks now (serve does it itself)\n"
		"  sla [--customer C] [--month YYYY-MM] [--json]\n"
		"                                     SLA figures of a month\n"
		"  report CUSTOMER --month YYYY-MM [--lang zh-CN|en] [--format pdf|html]\n"
		"           [--time-zone TZ] [-o FILE]\n"
		"                                     the monthly health report (docs/report.md)\n"
		"  notify test CHANNEL                send a test notice to a named channel\n"
		"  maintenance add CUSTOMER [--host AGENT] (--weekly 'Sun 02:00-04:00' |\n"
		"           --from T --to T) [--time-zone TZ] [--reason R] [--approved]\n"
		"  maintenance list [--customer C] [--json] | maintenance approve ID\n"
		"  tls init --name HOST [--dir DIR]   a private CA and a server certificate; "
		"prints "
		"what agents need\n"
		"  import FILE                        ingest an agent's export bundle (signed "
		"reports)\n"
		"  customer report-settings CUSTOMER [timezone=TZ] [language=en|zh-CN]\n"
		"           [contacts=A,B] [account_manager=M]\n"
		"                                     the monthly report's time zone, language "
		"and recipients\n"
		"  report-send CUSTOMER --month YYYY-MM [--again]\n"
		"                                     render, store and mail one month's report "
		"now\n"
		"  report-schedule [--now EPOCH]      send the monthly reports that are due (serve "
		"does it itself)\n"
		"  report-list CUSTOMER [--json]      the customer's stored monthly reports\n"
		"  --version | --help\n"
		"Config: %s (see docs/collector.md)\n",
		COLL_DEFAULT_CONFIG);
}

/* `migrate --to N` holds the store at version N (tests of a migration,
 * staged upgrades); every other command migrates to the newest. */
static int migrate_target = COLL_SCHEMA_VERSION;

static int open_store(const struct coll_settings *cfg, struct coll_store **ret)
{
	char err[512] = "";
	struct coll_db_opts o = {
		.statement_timeout_ms = cfg->statement_timeout_ms * 10,
		.connect_timeout_ms = cfg->connect_timeout_ms * 2,
		.busy_timeout_ms = cfg->busy_timeout_ms,
	};
	int r = coll_store_open(cfg->store_url, &o, ret, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "erpulse-collector: %s\n", err);
		return r;
	}
	r = coll_store_migrate_to(*ret, migrate_target);
	if (r < 0) {
		fprintf(stderr, "erpulse-collector: migrating the store: %s\n", (*ret)->err);
		coll_store_close(*ret);
		*ret = NULL;
	}
	return r;
}

static int fail_store(struct coll_store *s, const char *what, int r)
{
	if (r == -EEXIST)
		fprintf(stderr, "erpulse-collector: %s: already exists\n", what);
	else if (r == -ENOENT)
		fprintf(stderr, "erpulse-collector: %s: not found\n", what);
	else
		fprintf(stderr, "erpulse-collector: %s: %s\n", what, s->err);
	return 1;
}

static int64_t now_s(void)
{
	return ep_wall_ms() / 1000;
}

/* customer threshold CUSTOMER KIND [warning=N] [critical=N] [min_size=N] */
static int cmd_threshold(struct coll_store *s, int argc, char **argv)
{
	static const char *const keys[] = {"warning", "critical", "min_size"};
	double v[3] = {NAN, NAN, NAN};
	char id[COLL_ID_SIZE];
	enum coll_rule rule;

	if (coll_rule_parse(argv[1], &rule) < 0) {
		fprintf(stderr, "erpulse-collector: '%s' is not a finding kind\n", argv[1]);
		return 2;
	}
	for (int i = 2; i < argc; i++) {
		size_t k = 0;
		for (; k < EP_ARRAY_SIZE(keys); k++) {
			size_t n = strlen(keys[k]);
			if (!strncmp(argv[i], keys[k], n) && argv[i][n] == '=')
				break;
		}
		char *end = NULL;
		const char *num = k < EP_ARRAY_SIZE(keys) ? strchr(argv[i], '=') + 1 : "";
		double d = strtod(num, &end);
		if (k == EP_ARRAY_SIZE(keys) || end == num || *end || !isfinite(d)) {
			fprintf(stderr,
				"erpulse-collector: '%s': expected warning=N, critical=N or "
				"min_size=N\n",
				argv[i]);
			return 2;
		}
		v[k] = d;
	}
	int r = coll_store_customer_find(s, argv[0], id);
	if (r < 0)
		return fail_store(s, argv[0], r);
	r = coll_store_threshold_set(s, id, argv[1], v[0], v[1], v[2], now_s());
	if (r < 0)
		return fail_store(s, "customer threshold", r);
	if (isnan(v[0]) && isnan(v[1]) && isnan(v[2]))
		printf("%s: override of %s removed (the agent's lines apply)\n", argv[0], argv[1]);
	else {
		printf("%s: %s now judged with", argv[0], argv[1]);
		for (size_t k = 0; k < EP_ARRAY_SIZE(keys); k++)
			if (!isnan(v[k]))
				printf(" %s=%g", keys[k], v[k]);
		printf(" (any other line: the agent's)\n");
	}
	return 0;
}

static int cmd_thresholds(struct coll_store *s, const char *customer)
{
	char id[COLL_ID_SIZE];
	json_t *list = NULL, *e;
	size_t i;
	int r = customer ? coll_store_customer_find(s, customer, id) : 0;

	if (r == 0)
		r = coll_store_thresholds(s, customer ? id : NULL, &list);
	if (r < 0)
		return fail_store(s, "customer thresholds", r);
	printf("%-16s  %-28s  %8s  %8s  %8s\n", "CUSTOMER", "KIND", "WARNING", "CRITICAL",
	       "MIN_SIZE");
	json_array_foreach(list, i, e)
	{
		char n[3][32];
		const char *k[3] = {"warning", "critical", "min_size"};
		for (int j = 0; j < 3; j++) {
			const json_t *x = json_object_get(e, k[j]);
			if (json_is_number(x))
				snprintf(n[j], sizeof(n[j]), "%g", json_number_value(x));
			else
				snprintf(n[j], sizeof(n[j]), "-");
		}
		printf("%-16s  %-28s  %8s  %8s  %8s\n",
		       json_string_value(json_object_get(e, "customer_id")),
		       json_string_value(json_object_get(e, "kind")), n[0], n[1], n[2]);
	}
	json_decref(list);
	return 0;
}

/* sweep [--now EPOCH] [--retention]: one dead-man sweep; --now stands in
 * for the clock (tests of silence without waiting minutes; docs/testing.md);
 * --retention then runs the maintenance's hourly step at that time too
 * (the compression dictionary, retention). */
static int cmd_sweep(const struct coll_settings *cfg, struct coll_store *s, int argc, char **argv)
{
	struct coll_analysis an;
	char err[256];
	int64_t now = now_s();
	bool retention = false;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--retention")) {
			retention = true;
			continue;
		}
		if (strcmp(argv[i], "--now") != 0 || i + 1 >= argc)
			return 2;
		char *end = NULL;
		long long t = strtoll(argv[++i], &end, 10);
		if (!*argv[i] || *end || t <= 0) {
			fprintf(stderr, "erpulse-collector: --now: epoch seconds\n");
			return 2;
		}
		now = t;
	}
	if (coll_analysis_config(cfg, &an, err, sizeof(err)) < 0) {
		fprintf(stderr, "erpulse-collector: %s\n", err);
		return 1;
	}
	int r = coll_analysis_deadman(&an, s, now);
	if (r < 0)
		return fail_store(s, "sweep", r);
	printf("%d silent agents alerted\n", r);
	if (!retention)
		return 0;
	/* as the maintenance's hourly step: the compression dictionary (trained
	 * when the newest is a week old or there is none), then retention;
	 * history first, for its figures; coll_store_retention then finds
	 * nothing more of it and does the rest */
	if ((r = coll_store_codec_maintain(s, now)) < 0)
		return fail_store(s, "compression dictionary", r);
	struct coll_retention_stats st;
	s->keep_raw_days = cfg->keep_raw_days;         /* raw bodies' window (store/reports.c) */
	s->keep_samples_days = cfg->keep_samples_days; /* raw samples' (store/partitions.c) */
	int64_t keep_raw = cfg->retention_days * 86400,
		keep_rollup = cfg->rollup_retention_days * 86400;
	r = coll_store_history_retention(s, now, keep_raw, keep_rollup, &st);
	if (r == 0)
		r = coll_store_retention(s, now, keep_raw, keep_rollup);
	if (r < 0)
		return fail_store(s, "retention", r);
	printf("retention: %zu partitions dropped, %zu sample series cut, longest write "
	       "transaction %lld ms\n",
	       st.partitions_dropped, st.series_retired, (long long)st.longest_tx_ms);
	return 0;
}

static int cmd_customer(struct coll_store *s, int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[0], "threshold") == 0)
		return cmd_threshold(s, argc - 1, argv + 1);
	if (argc <= 2 && argc >= 1 && strcmp(argv[0], "thresholds") == 0)
		return cmd_thresholds(s, argc == 2 ? argv[1] : NULL);
	if (argc == 2 && strcmp(argv[0], "add") == 0) {
		char id[COLL_ID_SIZE];
		if (!argv[1][0] || strlen(argv[1]) > 200 ||
		    !ep_utf8_valid(argv[1], strlen(argv[1]))) {
			fprintf(stderr, "erpulse-collector: customer name: 1-200 bytes of UTF-8\n");
			return 2;
		}
		int r = coll_store_customer_add(s, argv[1], now_s(), id);
		if (r < 0)
			return fail_store(s, argv[1], r);
		printf("%s\n", id);
		return 0;
	}
	if (argc == 1 && strcmp(argv[0], "list") == 0) {
		struct coll_scope all = {.customer_id = NULL};
		json_t *list = NULL, *c;
		size_t i;
		int r = coll_store_customers(s, &all, &list);
		if (r < 0)
			return fail_store(s, "customer list", r);
		printf("%-16s  %-30s  %5s  %5s  %s\n", "ID", "NAME", "HOSTS", "SCORE", "BAND");
		json_array_foreach(list, i, c)
		{
			json_t *sc = json_object_get(c, "score");
			char score[16] = "-";
			if (json_is_integer(sc))
				snprintf(score, sizeof(score), "%lld",
					 (long long)json_integer_value(sc));
			printf("%-16s  %-30s  %5lld  %5s  %s\n",
			       json_string_value(json_object_get(c, "id")),
			       json_string_value(json_object_get(c, "name")),
			       (long long)json_integer_value(json_object_get(c, "hosts")), score,
			       json_is_string(json_object_get(c, "band"))
				       ? json_string_value(json_object_get(c, "band"))
				       : "-");
		}
		json_decref(list);
		return 0;
	}
	usage(stderr);
	return 2;
}

static int cmd_token(struct coll_store *s, int argc, char **argv)
{
	int64_t uses = 1, expires = 7 * 86400;
	if (argc < 2 || strcmp(argv[0], "create") != 0) {
		usage(stderr);
		return 2;
	}
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--uses") == 0 && i + 1 < argc) {
			if (ep_parse_int64(argv[++i], 1, 1000000000, &uses) < 0) {
				fprintf(stderr, "erpulse-collector: --uses: a number >= 1\n");
				return 2;
			}
		} else if (strcmp(argv[i], "--expires") == 0 && i + 1 < argc) {
			if (ep_parse_duration(argv[++i], 60, 3650LL * 86400, &expires) < 0) {
				fprintf(stderr, "erpulse-collector: --expires: a duration such as "
						"30m, 12h or 7d (at least 1m)\n");
				return 2;
			}
		} else {
			usage(stderr);
			return 2;
		}
	}
	char customer[COLL_ID_SIZE];
	int r = coll_store_customer_find(s, argv[1], customer);
	if (r < 0)
		return fail_store(s, argv[1], r);
	char secret[41], token[48], hash[65];
	ep_random_hex(20, secret, sizeof(secret));
	snprintf(token, sizeof(token), "ept_%s", secret);
	ep_hash_secret(token, hash);
	r = coll_store_token_add(s, customer, hash, uses, now_s() + expires, now_s());
	if (r < 0)
		return fail_store(s, "token", r);
	printf("%s\n", token);
	fprintf(stderr,
		"enrollment token for customer %s: %lld use(s), expires in %lld s; shown "
		"only now\n",
		customer, (long long)uses, (long long)expires);
	return 0;
}

static int cmd_agent(struct coll_store *s, int argc, char **argv)
{
	if (argc == 1 && strcmp(argv[0], "list") == 0) {
		struct coll_scope all = {.customer_id = NULL};
		json_t *list = NULL, *a;
		size_t i;
		int r = coll_store_agents(s, &all, now_s(), &list);
		if (r < 0)
			return fail_store(s, "agent list", r);
		printf("%-32s  %-20s  %-24s  %-14s  %8s  %5s\n", "ID", "CUSTOMER", "HOSTNAME",
		       "STATE", "LAST_SEQ", "SCORE");
		json_array_foreach(list, i, a)
		{
			char seq[24], score[16];
			coll_cli_jint(a, "last_seq", seq, sizeof(seq));
			coll_cli_jint(a, "score", score, sizeof(score));
			printf("%-32s  %-20s  %-24s  %-14s  %8s  %5s\n",
			       coll_cli_jstr(a, "id", "-"), coll_cli_jstr(a, "customer", "-"),
			       coll_cli_jstr(a, "hostname", "-"), coll_cli_jstr(a, "state", "-"),
			       seq, score);
		}
		json_decref(list);
		return 0;
	}
	if (argc == 2 && strcmp(argv[0], "revoke") == 0) {
		int r = coll_store_agent_revoke(s, argv[1], now_s());
		if (r < 0)
			return fail_store(s, argv[1], r);
		printf("revoked %s\n", argv[1]);
		return 0;
	}
	usage(stderr);
	return 2;
}

static int cmd_user(struct coll_store *s, int argc, char **argv)
{
	const char *role = NULL, *customer = NULL;
	if (argc < 2 || strcmp(argv[0], "add") != 0) {
		usage(stderr);
		return 2;
	}
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--role") == 0 && i + 1 < argc)
			role = argv[++i];
		else if (strcmp(argv[i], "--customer") == 0 && i + 1 < argc)
			customer = argv[++i];
		else {
			usage(stderr);
			return 2;
		}
	}
	enum coll_role r_role;
	if (coll_role_parse(role, &r_role) < 0) {
		fprintf(stderr, "erpulse-collector: user add: --role vendor, support, "
				"vendor_viewer, viewer or customer_admin\n");
		return 2;
	}
	char cid[COLL_ID_SIZE] = "";
	if (!coll_role_sees_all(r_role)) {
		if (!customer) {
			fprintf(stderr, "erpulse-collector: a customer role needs --customer\n");
			return 2;
		}
		int r = coll_store_customer_find(s, customer, cid);
		if (r < 0)
			return fail_store(s, customer, r);
	} else if (customer) {
		fprintf(stderr, "erpulse-collector: a vendor-side user sees every customer: drop "
				"--customer\n");
		return 2;
	}
	char secret[41], token[48], hash[65];
	ep_random_hex(20, secret, sizeof(secret));
	snprintf(token, sizeof(token), "epa_%s", secret);
	ep_hash_secret(token, hash);
	int r = coll_store_user_add(s, argv[1], r_role, cid, hash, now_s());
	if (r < 0)
		return fail_store(s, argv[1], r);
	printf("%s\n", token);
	fprintf(stderr, "API token for %s (%s); shown only now\n", argv[1], role);
	return 0;
}

/* Everything serve would refuse, said before it is started: TLS files,
 * the webhook format, the store (opened and migrated). */
static int cmd_check_config(const struct coll_settings *cfg)
{
	int bad = 0;
	if (cfg->tls) {
		const char *files[] = {cfg->tls_cert, cfg->tls_key};
		const char *names[] = {"tls_cert", "tls_key"};
		for (size_t i = 0; i < 2; i++) {
			char *data = NULL;
			size_t len;
			if (!files[i]) {
				fprintf(stderr,
					"[server] %s: required (or tls = no, for tests and "
					"behind a TLS proxy only)\n",
					names[i]);
				bad = 1;
			} else if (ep_read_file(files[i], 1 << 20, &data, &len) < 0) {
				fprintf(stderr, "[server] %s: cannot read '%s': %m\n", names[i],
					files[i]);
				bad = 1;
			}
			free(data);
		}
	}
	struct coll_analysis an;
	char aerr[512];
	if (coll_analysis_config(cfg, &an, aerr, sizeof(aerr)) < 0) { /* as serve reads it */
		fprintf(stderr, "%s\n", aerr);
		bad = 1;
	}
	struct coll_store *s = NULL;
	if (open_store(cfg, &s) < 0)
		bad = 1;
	coll_store_close(s);
	if (bad)
		return 1;
	printf("configuration OK\n");
	return 0;
}

static int cmd_serve(const struct coll_settings *cfg)
{
	char err[1024] = "";
	struct coll_server *srv = NULL;
	sigset_t set;
	int sig = 0;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL); /* every thread inherits it */
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int r = coll_server_start(cfg, &srv, err, sizeof(err));
	if (r < 0) {
		ep_log_err("cannot start: %s", err);
		curl_global_cleanup();
		return 1;
	}
	ep_log_notice("listening on %s:%d (%s), store %s", cfg->listen_host, coll_server_port(srv),
		      cfg->tls ? "https" : "http, no TLS",
		      strncmp(cfg->store_url, "sqlite:", 7) == 0 ? "SQLite" : "PostgreSQL");
	sd_notify(0, "READY=1");
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			ep_log_notice("SIGHUP: configuration reload needs a restart");
			continue;
		}
		break;
	}
	sd_notify(0, "STOPPING=1");
	ep_log_notice("stopping (signal %d)", sig);
	coll_server_stop(srv);
	curl_global_cleanup();
	return 0;
}

int main(int argc, char **argv)
{
	const char *config = NULL, *store = NULL;
	int i = 1;
	for (; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			config = argv[++i];
		else if (strcmp(argv[i], "--store") == 0 && i + 1 < argc)
			store = argv[++i];
		else if (strcmp(argv[i], "--version") == 0) {
			printf("erpulse-collector %s\n", EP_VERSION);
			return 0;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else
			break;
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[i++];
	int nargs = argc - i;
	char **args = argv + i;
	if (strcmp(cmd, "tls") == 0) /* no configuration, no store */
		return coll_cli_tls(nargs, args);

	struct coll_settings cfg;
	char err[1024] = "";
	if (coll_settings_load(config, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "erpulse-collector: %s\n", err);
		return 1;
	}
	if (store) {
		free(cfg.store_url);
		cfg.store_url = strdup(store);
		if (!cfg.store_url)
			return 1;
	}
	enum ep_log_level level = EP_LOG_INFO;
	if (ep_log_level_parse(cfg.log_level, &level) < 0) {
		fprintf(stderr,
			"erpulse-collector: [server] log_level: '%s' is not err, warning, "
			"notice, info or debug\n",
			cfg.log_level);
		coll_settings_free(&cfg);
		return 1;
	}
	ep_log_init("erpulse-collector", level, EP_LOG_AUTO);
	if (ep_crypto_init() < 0) {
		fprintf(stderr, "erpulse-collector: cannot initialise libsodium\n");
		coll_settings_free(&cfg);
		return 1;
	}

	int rc;
	if (coll_cli_check_owner(&cfg, argc, argv) != 0) {
		coll_settings_free(&cfg);
		return 1;
	}
	if (strcmp(cmd, "check-config") == 0 && nargs == 0) {
		rc = cmd_check_config(&cfg);
		coll_settings_free(&cfg);
		return rc;
	}
	if (strcmp(cmd, "serve") == 0 && nargs == 0) {
		rc = cmd_serve(&cfg);
		coll_settings_free(&cfg);
		return rc;
	}
	if (strcmp(cmd, "notify") == 0) {
		if (nargs == 2 && strcmp(args[0], "test") == 0) {
			rc = coll_cli_notify_test(&cfg, args[1]);
		} else {
			fprintf(stderr, "erpulse-collector: notify test CHANNEL\n");
			rc = 2;
		}
		coll_settings_free(&cfg);
		return rc;
	}
	if (strncmp(cmd, "report-", 7) == 0 || (strcmp(cmd, "customer") == 0 && nargs >= 1 &&
						strcmp(args[0], "report-settings") == 0)) {
		/* the monthly report's delivery (cli_report_delivery.c) */
		struct coll_store *s = NULL;
		rc = open_store(&cfg, &s) < 0 ? 1
					      : coll_cli_report_delivery(&cfg, s, cmd, nargs, args);
		coll_store_close(s);
		coll_settings_free(&cfg);
		return rc;
	}
	bool known = strcmp(cmd, "migrate") == 0 || strcmp(cmd, "customer") == 0 ||
		     strcmp(cmd, "token") == 0 || strcmp(cmd, "agent") == 0 ||
		     strcmp(cmd, "user") == 0 || strcmp(cmd, "scores") == 0 ||
		     strcmp(cmd, "sweep") == 0 || strcmp(cmd, "incident") == 0 ||
		     strcmp(cmd, "sla") == 0 || strcmp(cmd, "maintenance") == 0 ||
		     strcmp(cmd, "import") == 0 || strcmp(cmd, "host") == 0 ||
		     strcmp(cmd, "report") == 0;
	if (!known) {
		fprintf(stderr, "erpulse-collector: unknown command '%s'\n", cmd);
		usage(stderr);
		coll_settings_free(&cfg);
		return 2;
	}
	if (strcmp(cmd, "migrate") == 0 && nargs > 0) {
		int64_t to = 0;
		if (nargs != 2 || strcmp(args[0], "--to") != 0 ||
		    ep_parse_int64(args[1], 1, COLL_SCHEMA_VERSION, &to) < 0) {
			fprintf(stderr,
				"erpulse-collector: migrate takes no argument or --to N "
				"(1..%d, the schema version to stop at)\n",
				COLL_SCHEMA_VERSION);
			coll_settings_free(&cfg);
			return 2;
		}
		migrate_target = (int)to;
	}
	struct coll_store *s = NULL;
	if (open_store(&cfg, &s) < 0) {
		coll_settings_free(&cfg);
		return 1;
	}
	if ((rc = coll_cli_lifecycle(s, cmd, nargs, args)) >= 0) {
		/* handled */
	} else if (strcmp(cmd, "migrate") == 0) {
		int v = 0;
		coll_store_schema_version(s, &v);
		printf("store schema version %d\n", v);
		rc = 0;
	} else if (strcmp(cmd, "customer") == 0 && nargs == 3 && strcmp(args[0], "tier") == 0)
		rc = coll_cli_customer_tier(&cfg, s, args[1], args[2]);
	else if (strcmp(cmd, "customer") == 0)
		rc = cmd_customer(s, nargs, args);
	else if (strcmp(cmd, "incident") == 0)
		rc = coll_cli_incident(&cfg, s, nargs, args);
	else if (strcmp(cmd, "sla") == 0)
		rc = coll_cli_sla(&cfg, s, nargs, args);
	else if (strcmp(cmd, "maintenance") == 0)
		rc = coll_cli_maintenance(s, nargs, args);
	else if (strcmp(cmd, "token") == 0)
		rc = cmd_token(s, nargs, args);
	else if (strcmp(cmd, "agent") == 0)
		rc = cmd_agent(s, nargs, args);
	else if (strcmp(cmd, "user") == 0)
		rc = cmd_user(s, nargs, args);
	else if (strcmp(cmd, "sweep") == 0)
		rc = cmd_sweep(&cfg, s, nargs, args);
	else if (strcmp(cmd, "report") == 0)
		rc = coll_cli_report(&cfg, s, nargs, args);
	else if (strcmp(cmd, "import") == 0)
		rc = coll_cli_import(&cfg, s, nargs, args);
	else if (strcmp(cmd, "scores") == 0)
		rc = coll_cli_scores(s, nargs, args);
	else {
		usage(stderr);
		rc = 2;
	}
	coll_store_close(s);
	coll_settings_free(&cfg);
	return rc;
}
