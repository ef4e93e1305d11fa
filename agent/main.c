/* erpulse-agent: command line. Exit codes: docs/agent.md. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/supervisor/protocol.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: erpulse-agent [--config PATH] COMMAND [OPTIONS]\n"
		"\n"
		"Commands:\n"
		"  run                     run as a daemon (foreground; systemd Type=notify)\n"
		"  once [--print] [--probe NAME] [--fresh]\n"
		"                          one cycle: probe, spool, deliver; with --print, print\n"
		"                          the exact JSON that would be signed and sent, and send\n"
		"                          nothing; --probe runs one instance or probe type only;\n"
		"                          --fresh measures again what would be carried (index\n"
		"                          figures), within the probes' budgets\n"
		"  enroll --collector URL --token TOKEN [--force]\n"
		"                          register this host with a collector\n"
		"  check-config            validate the configuration and try every probe\n"
		"  status                  enrollment, last delivery, spool, probe errors\n"
		"  --version, --help\n"
		"\n"
		"Options:\n"
		"  --config PATH           configuration file (default " AGENT_DEFAULT_CONFIG ")\n"
		"\n"
		"Exit codes: 0 ok, 1 failure, 2 usage, 3 configuration invalid, 4 not enrolled,\n"
		"5 report kept in the spool (collector unreachable), 6 refused by the collector.\n"
		"\n"
		"Probes:\n");
	for (size_t i = 0; ep_probe_registry[i]; i++)
		fprintf(f, "  %-10s %s\n", ep_probe_registry[i]->name,
			ep_probe_registry[i]->summary ? ep_probe_registry[i]->summary : "");
}

static int load_conf(const char *path, struct agent_conf **ret)
{
	struct ep_buf problems;
	int r;

	ep_buf_init(&problems, 64 * 1024);
	r = agent_conf_load(path, ret, &problems);
	if (r < 0)
		fprintf(stderr, "%s", problems.data ? problems.data : "");
	ep_buf_free(&problems);
	return r;
}

static int cmd_once(const char *config, bool print, const char *only, bool fresh)
{
	struct agent_ctx a;
	char err[1024], keypath[4096];
	char *body = NULL;
	int r, rc = AGENT_EXIT_FAILURE, lockfd = -1;

	memset(&a, 0, sizeof(a));
	a.fresh = fresh;
	if (load_conf(config, &a.conf) < 0)
		return AGENT_EXIT_CONFIG;
	ep_log_set_level(a.conf->log_level);
	if (agent_drop_privileges(a.conf, err, sizeof(err)) < 0) {
		ep_log_err("%s", err);
		goto out;
	}
	agent_spool_dir(a.conf->state_dir, a.spool_dir, sizeof(a.spool_dir));
	if (!print) {
		lockfd = agent_lock_state(a.conf->state_dir, err, sizeof(err));
		if (lockfd < 0) {
			ep_log_err("%s", err);
			goto out;
		}
	}
	r = agent_state_load(a.conf->state_dir, &a.st, err, sizeof(err));
	if (r < 0) {
		ep_log_err("%s", err);
		goto out;
	}
	if (print) {
		r = agent_cycle(&a, true, only, &body);
		if (r < 0)
			goto out;
		fputs(body, stdout);
		fputc('\n', stdout);
		rc = fflush(stdout) == 0 ? AGENT_EXIT_OK : AGENT_EXIT_FAILURE;
		goto out;
	}
	if (!agent_state_enrolled(&a.st)) {
		ep_log_err("not enrolled: run erpulse-agent enroll --collector URL --token TOKEN "
			   "(or use once --print to see a report without sending it)");
		rc = AGENT_EXIT_NOT_ENROLLED;
		goto out;
	}
	ep_snprintf(keypath, sizeof(keypath), "%s/agent.key", a.conf->state_dir);
	r = ep_key_load(keypath, &a.key, err, sizeof(err));
	if (r < 0) {
		ep_log_err("%s", err);
		rc = r == -ENOENT ? AGENT_EXIT_NOT_ENROLLED : AGENT_EXIT_FAILURE;
		goto out;
	}
	a.have_key = true;
	r = agent_cycle(&a, false, only, NULL);
	if (r < 0)
		goto out;
	switch (agent_deliver(&a)) {
	case AGENT_DELIVER_EMPTY:
		rc = AGENT_EXIT_OK;
		if (a.refused) {
			ep_log_err("%s", a.problem);
			rc = AGENT_EXIT_REFUSED;
		}
		break;
	case AGENT_DELIVER_RETRY:
		ep_log_err("%s; the report stays in the spool", a.problem);
		rc = AGENT_EXIT_UNDELIVERED;
		break;
	case AGENT_DELIVER_BLOCKED:
		ep_log_err("%s", a.problem);
		rc = AGENT_EXIT_REFUSED;
		break;
	case AGENT_DELIVER_MORE: /* no budget in once: not reached */
		rc = AGENT_EXIT_UNDELIVERED;
		break;
	}
out:
	free(body);
	ep_key_wipe(&a.key);
	agent_state_free(&a.st);
	agent_conf_free(a.conf);
	if (lockfd >= 0)
		close(lockfd);
	return rc;
}

static int cmd_check(const char *config)
{
	struct agent_conf *c = NULL;
	struct agent_probe_outcome *out = NULL;
	struct agent_state st;
	char err[1024];
	int problems = 0, r;

	if (load_conf(config, &c) < 0) {
		fprintf(stderr, "configuration invalid\n");
		return AGENT_EXIT_CONFIG;
	}
	if (agent_drop_privileges(c, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		problems++;
	}
	if (c->ca_file && access(c->ca_file, R_OK) != 0) {
		fprintf(stderr, "%s: [agent] ca_file: cannot read '%s': %s\n", c->path, c->ca_file,
			strerror(errno));
		problems++;
	}
	if (agent_state_load(c->state_dir, &st, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		problems++;
	} else {
		if (agent_state_enrolled(&st)) {
			struct ep_keypair kp;
			char keypath[4096];

			ep_snprintf(keypath, sizeof(keypath), "%s/agent.key", c->state_dir);
			if (ep_key_load(keypath, &kp, err, sizeof(err)) < 0) {
				fprintf(stderr, "%s\n", err);
				problems++;
			}
			ep_key_wipe(&kp);
		}
		agent_state_free(&st);
	}
	r = agent_run_probes(c->instances, c->n_instances, c->root, c->state_dir,
			     c->probe_timeout_s * 1000, AGENT_RUN_CHECK, NULL, NULL, &out);
	if (r < 0) {
		fprintf(stderr, "cannot run the probe checks: %s\n", strerror(-r));
		problems++;
	} else {
		for (size_t i = 0; i < c->n_instances; i++) {
			if (out[i].status == EP_STATUS_ERROR) {
				fprintf(stderr, "[%s]: %s\n", out[i].name, out[i].error);
				problems++;
			} else {
				printf("[%s]: ok\n", out[i].name);
			}
		}
		agent_outcomes_free(out, c->n_instances);
	}
	agent_conf_free(c);
	if (problems) {
		fprintf(stderr, "%d problem(s) found\n", problems);
		return AGENT_EXIT_CONFIG;
	}
	printf("configuration OK\n");
	return AGENT_EXIT_OK;
}

static void print_time(const char *label, int64_t t)
{
	char buf[32];

	if (t > 0 && ep_time_format((time_t)t, buf, sizeof(buf)) == 0)
		printf("%-14s%s\n", label, buf);
	else
		printf("%-14snever\n", label);
}

static int cmd_status(const char *config)
{
	struct agent_conf *c = NULL;
	struct agent_state st;
	struct agent_spool_stats s;
	char err[1024], spool[4096], qdir[4096];
	struct agent_spool_stats q;
	const char *key;
	json_t *v;
	int rc;

	if (load_conf(config, &c) < 0)
		return AGENT_EXIT_CONFIG;
	if (agent_state_load(c->state_dir, &st, err, sizeof(err)) < 0) {
		fprintf(stderr, "erpulse-agent: %s\n", err);
		agent_conf_free(c);
		return AGENT_EXIT_FAILURE;
	}
	agent_spool_dir(c->state_dir, spool, sizeof(spool));
	agent_spool_stats(spool, &s);
	ep_snprintf(qdir, sizeof(qdir), "%s/quarantine", spool);
	agent_spool_stats(qdir, &q);
	printf("%-14s%s\n", "config:", c->path);
	if (agent_state_enrolled(&st)) {
		printf("%-14syes: agent %s, customer %s\n", "enrolled:", st.agent_id,
		       st.customer_id);
		printf("%-14s%s\n", "collector:", c->collector ? c->collector : st.collector);
	} else {
		printf("%-14sno (run: erpulse-agent enroll --collector URL --token TOKEN)\n",
		       "enrolled:");
	}
	printf("%-14s%lld\n", "next seq:", (long long)st.next_seq);
	printf("%-14s%s\n", "last push:", st.last_push[0] ? st.last_push : "none");
	print_time("  at:", st.last_push_at);
	print_time("last success:", st.last_ok_at);
	printf("%-14s%lld report(s), %lld bytes", "spool:", (long long)s.count, (long long)s.bytes);
	if (s.count)
		printf(", oldest seq %lld", (long long)s.oldest_seq);
	printf("\n");
	if (q.count)
		printf("%-14s%lld report(s) in %s\n", "quarantine:", (long long)q.count, qdir);
	printf("%-14s%lld (announced in the next report)\n", "dropped:", (long long)st.dropped);
	printf("probes:\n");
	json_object_foreach(st.probes, key, v)
	{
		const char *status = json_string_value(json_object_get(v, "status"));
		const char *error = json_string_value(json_object_get(v, "error"));
		printf("  %-20s %s%s%s\n", key, status ? status : "?", error && *error ? ": " : "",
		       error && *error ? error : "");
	}
	rc = agent_state_enrolled(&st) ? AGENT_EXIT_OK : AGENT_EXIT_NOT_ENROLLED;
	agent_state_free(&st);
	agent_conf_free(c);
	return rc;
}

static int cmd_enroll(const char *config, int argc, char **argv)
{
	const char *url = NULL, *token = NULL;
	bool force = false;
	struct agent_conf *c = NULL;
	int rc;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--collector") == 0 && i + 1 < argc)
			url = argv[++i];
		else if (strcmp(argv[i], "--token") == 0 && i + 1 < argc)
			token = argv[++i];
		else if (strcmp(argv[i], "--force") == 0)
			force = true;
		else {
			fprintf(stderr, "erpulse-agent: enroll: unexpected argument '%s'\n",
				argv[i]);
			return AGENT_EXIT_USAGE;
		}
	}
	if (load_conf(config, &c) < 0)
		return AGENT_EXIT_CONFIG;
	if (!url)
		url = c->collector;
	rc = agent_enroll(c, url, token, force);
	agent_conf_free(c);
	return rc;
}

int main(int argc, char **argv)
{
	const char *config = AGENT_DEFAULT_CONFIG;
	const char *cmd = NULL;
	int i = 1;

	ep_log_init("erpulse-agent", EP_LOG_INFO, EP_LOG_AUTO);
	for (; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 || strcmp(argv[i], "-c") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "erpulse-agent: --config needs a path\n");
				return AGENT_EXIT_USAGE;
			}
			config = argv[++i];
		} else if (strncmp(argv[i], "--config=", 9) == 0) {
			config = argv[i] + 9;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("erpulse-agent %s\n", EP_VERSION);
			return AGENT_EXIT_OK;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return AGENT_EXIT_OK;
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "erpulse-agent: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return AGENT_EXIT_USAGE;
		} else {
			cmd = argv[i++];
			break;
		}
	}
	if (!cmd) {
		usage(stderr);
		return AGENT_EXIT_USAGE;
	}
	if (ep_crypto_init() < 0 || agent_http_global_init() < 0) {
		fprintf(stderr, "erpulse-agent: cannot initialise libsodium/libcurl\n");
		return AGENT_EXIT_FAILURE;
	}
	if (strcmp(cmd, "run") == 0) {
		if (i < argc) {
			fprintf(stderr, "erpulse-agent: run: unexpected argument '%s'\n", argv[i]);
			return AGENT_EXIT_USAGE;
		}
		return agent_daemon(config);
	}
	if (strcmp(cmd, "once") == 0) {
		bool print = false, fresh = false;
		const char *only = NULL;

		for (; i < argc; i++) {
			if (strcmp(argv[i], "--print") == 0)
				print = true;
			else if (strcmp(argv[i], "--fresh") == 0)
				fresh = true;
			else if (strcmp(argv[i], "--probe") == 0 && i + 1 < argc)
				only = argv[++i];
			else {
				fprintf(stderr, "erpulse-agent: once: unexpected argument '%s'\n",
					argv[i]);
				return AGENT_EXIT_USAGE;
			}
		}
		return cmd_once(config, print, only, fresh);
	}
	/* hidden: the daemon's cycle processes, started by erpulse-agentd */
	if (strcmp(cmd, AGENTD_CMD_CYCLE) == 0 || strcmp(cmd, AGENTD_CMD_RELOAD) == 0)
		return agent_daemon_child(config, cmd, argc - i, argv + i);
	if (strcmp(cmd, "enroll") == 0)
		return cmd_enroll(config, argc - i, argv + i);
	if (strcmp(cmd, "check-config") == 0 && i == argc)
		return cmd_check(config);
	if (strcmp(cmd, "status") == 0 && i == argc)
		return cmd_status(config);
	fprintf(stderr, "erpulse-agent: unknown command '%s'\n", cmd);
	usage(stderr);
	return AGENT_EXIT_USAGE;
}
