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
		"  check-config [--offline]\n"
		"                          validate the configuration, the state directory and\n"
		"                          the key, reach the collector (TLS, clock) and try "
		"every\n"
		"                          probe; --offline skips the collector (a warning)\n"
		"  status [--json]         enrollment, last delivery, spool, probe errors; exits "
		"5\n"
		"                          (6) when the last delivery failed (was refused)\n"
		"  export -o FILE [--remove] [--max-mb N]\n"
		"                          write the spooled signed reports into one bundle for\n"
		"                          erpulse-collector import (- = standard output); they\n"
		"                          stay in the spool unless --remove\n"
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

/* once --print reads the saved probe state (log offsets, cursors) and saves
 * nothing, so it shows what the next cycle would see. Say so when that
 * state cannot be read: the report then reads as a first run. */
static void warn_unreadable_state(const char *state_dir)
{
	char dir[4096];

	if (ep_snprintf(dir, sizeof(dir), "%s/probes", state_dir) == 0 && access(dir, F_OK) == 0 &&
	    access(dir, R_OK | X_OK) < 0)
		ep_log_warning("cannot read the saved probe state in %s (%s): this report reads as "
			       "a first run (log sources from their end); run it as root or as "
			       "the agent's user",
			       dir, strerror(errno));
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
		warn_unreadable_state(a.conf->state_dir);
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
	a.watch_seq = a.st.next_seq - 1; /* the report this cycle spooled */
	r = agent_deliver(&a);
	agent_once_say(&a, agent_collector_url(&a));
	switch (r) {
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

/* A command that takes the configuration and one optional flag: status
 * [--json], check-config [--offline]. */
static int cmd_with_flag(const char *config, const char *name, const char *flag,
			 int (*fn)(const struct agent_conf *, bool), int argc, char **argv)
{
	struct agent_conf *c = NULL;
	bool set = false;
	int rc;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], flag) == 0) {
			set = true;
		} else {
			fprintf(stderr, "erpulse-agent: %s: unexpected argument '%s'\n", name,
				argv[i]);
			return AGENT_EXIT_USAGE;
		}
	}
	if (load_conf(config, &c) < 0) {
		if (fn == agent_check_config)
			fprintf(stderr, "configuration invalid\n");
		return AGENT_EXIT_CONFIG;
	}
	rc = fn(c, set);
	agent_conf_free(c);
	return rc;
}

static int cmd_export(const char *config, int argc, char **argv)
{
	const char *out = NULL;
	bool remove = false;
	int64_t max_mb = 0;
	struct agent_conf *c = NULL;
	int rc;

	for (int i = 0; i < argc; i++) {
		if ((strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) &&
		    i + 1 < argc) {
			out = argv[++i];
		} else if (strcmp(argv[i], "--remove") == 0) {
			remove = true;
		} else if (strcmp(argv[i], "--max-mb") == 0 && i + 1 < argc &&
			   ep_parse_int64(argv[i + 1], 1, 1024 * 1024, &max_mb) == 0) {
			i++;
		} else {
			fprintf(stderr, "erpulse-agent: export: unexpected argument '%s'\n",
				argv[i]);
			return AGENT_EXIT_USAGE;
		}
	}
	if (!out) {
		fprintf(stderr, "erpulse-agent: export: -o FILE is required (- for standard "
				"output)\n");
		return AGENT_EXIT_USAGE;
	}
	if (load_conf(config, &c) < 0)
		return AGENT_EXIT_CONFIG;
	ep_log_set_level(c->log_level);
	rc = agent_export(c, out, remove, max_mb * 1024 * 1024);
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
	if (strcmp(cmd, "export") == 0)
		return cmd_export(config, argc - i, argv + i);
	if (strcmp(cmd, "check-config") == 0)
		return cmd_with_flag(config, cmd, "--offline", agent_check_config, argc - i,
				     argv + i);
	if (strcmp(cmd, "status") == 0)
		return cmd_with_flag(config, cmd, "--json", agent_status, argc - i, argv + i);
	fprintf(stderr, "erpulse-agent: unknown command '%s'\n", cmd);
	usage(stderr);
	return AGENT_EXIT_USAGE;
}
