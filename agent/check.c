/* `erpulse-agent check-config [--offline]`: everything that would make the
 * agent fail, found before it runs: the configuration, the state directory,
 * the key, the collector (name, connection, TLS, clock), enrollment and
 * every probe's connection. docs/agent.md ("check-config") lists the checks
 * and the exit codes. Problems go to stderr as
 * "FILE:LINE: [agent] key: what is wrong (what to do)", warnings the same
 * with "warning: " before the text, what is fine to stdout. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent.h"

/* The clock skew above which check-config warns (the collector measures and
 * shows it anyway; a report is never refused for it). */
#define SKEW_WARN_S 60

struct check {
	const struct agent_conf *c;
	struct ep_keypair key; /* when enrolled and the key loads */
	bool have_key;
	int problems; /* anything that breaks the agent */
	int offline;  /* problems that are only "the collector cannot be reached" */
	int warnings;
};

/* "FILE:LINE: [agent] key: " for an [agent] key (the line where it is set,
 * else the section's, else none). */
static void where(const struct check *k, const char *key, char *buf, size_t size)
{
	const struct ep_config_section *s = ep_config_find(k->c->cfg, "agent");
	int line = 0;

	if (!key) {
		ep_snprintf(buf, size, "%s: ", k->c->path);
		return;
	}
	if (s) {
		line = s->line;
		for (size_t i = 0; i < s->n_entries; i++)
			if (strcmp(s->entries[i].key, key) == 0)
				line = s->entries[i].line;
	}
	if (line > 0)
		ep_snprintf(buf, size, "%s:%d: [agent] %s: ", k->c->path, line, key);
	else
		ep_snprintf(buf, size, "%s: [agent] %s: ", k->c->path, key);
}

enum level { OK, WARNING, PROBLEM, UNREACHABLE };

static void say(struct check *k, enum level lv, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void say(struct check *k, enum level lv, const char *key, const char *fmt, ...)
{
	char w[4200], msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	where(k, key, w, sizeof(w));
	switch (lv) {
	case OK:
		if (key)
			printf("[agent] %s: ok: %s\n", key, msg);
		else
			printf("%s\n", msg);
		return;
	case WARNING:
		k->warnings++;
		fprintf(stderr, "%swarning: %s\n", w, msg);
		return;
	case UNREACHABLE:
		k->offline++;
		/* fall through */
	case PROBLEM:
		k->problems++;
		fprintf(stderr, "%s%s\n", w, msg);
		return;
	}
}

/* The state directory must be writable by the agent (key, state, spool).
 * When it does not exist yet, its nearest existing parent must be (the
 * agent creates it); tested by making and removing a temporary entry, not
 * with access(), which root passes on /proc. */
static void check_state_dir(struct check *k)
{
	const char *dir = k->c->state_dir;
	char probe[4096], parent[4096];
	struct stat st;

	if (stat(dir, &st) == 0) {
		int fd;

		if (!S_ISDIR(st.st_mode)) {
			say(k, PROBLEM, "state_dir",
			    "'%s' is not a directory (remove it or choose "
			    "another state_dir)",
			    dir);
			return;
		}
		ep_snprintf(probe, sizeof(probe), "%s/.check-config-XXXXXX", dir);
		fd = mkstemp(probe);
		if (fd < 0) {
			say(k, PROBLEM, "state_dir",
			    "cannot write in '%s': %s (the agent user must own it: install -d -o "
			    "%s -m 0750 %s)",
			    dir, strerror(errno), k->c->user, dir);
			return;
		}
		close(fd);
		unlink(probe);
		say(k, OK, "state_dir", "%s is writable", dir);
		return;
	}
	if (errno != ENOENT) {
		say(k, PROBLEM, "state_dir", "cannot use '%s': %s", dir, strerror(errno));
		return;
	}
	ep_snprintf(parent, sizeof(parent), "%s", dir);
	for (;;) {
		char *slash = strrchr(parent, '/');

		if (!slash)
			break;
		if (slash == parent)
			slash[1] = '\0';
		else
			*slash = '\0';
		if (stat(parent, &st) == 0)
			break;
		if (slash == parent)
			break;
	}
	ep_snprintf(probe, sizeof(probe), "%s/.erpulse-check-XXXXXX",
		    strcmp(parent, "/") == 0 ? "" : parent);
	if (!mkdtemp(probe)) {
		say(k, PROBLEM, "state_dir",
		    "'%s' does not exist and cannot be created in '%s': %s (create it: install -d "
		    "-o %s -m 0750 %s)",
		    dir, parent, strerror(errno), k->c->user, dir);
		return;
	}
	rmdir(probe);
	say(k, OK, "state_dir", "%s does not exist yet; the agent will create it", dir);
}

static void check_key(struct check *k, const struct agent_state *st)
{
	struct ep_keypair kp;
	char keypath[4096], err[1024];

	if (!agent_state_enrolled(st)) {
		say(k, WARNING, NULL,
		    "not enrolled yet: run erpulse-agent enroll --collector URL --token TOKEN "
		    "(reports are made and spooled, but not sent, until then)");
		return;
	}
	ep_snprintf(keypath, sizeof(keypath), "%s/agent.key", k->c->state_dir);
	if (ep_key_load(keypath, &kp, err, sizeof(err)) < 0) {
		say(k, PROBLEM, "state_dir", "%s", err);
		return;
	}
	k->key = kp;
	k->have_key = true;
	ep_key_wipe(&kp);
	say(k, OK, NULL, "enrolled: agent %s, customer %s, key %s", st->agent_id, st->customer_id,
	    keypath);
	if (k->c->collector && st->collector[0] && strcmp(k->c->collector, st->collector) != 0)
		say(k, WARNING, "collector",
		    "'%s' differs from the collector this agent enrolled with ('%s'): reports go "
		    "to the configured one, which must know this agent",
		    k->c->collector, st->collector);
	if (agent_last_push_class(st) == AGENT_PUSH_REFUSED)
		say(k, WARNING, "collector", "the last delivery was refused: %s", st->last_push);
}

static void check_clock(struct check *k, int64_t server)
{
	int64_t skew = (int64_t)time(NULL) - server;
	int64_t abs_skew = skew < 0 ? -skew : skew;

	if (abs_skew > SKEW_WARN_S)
		say(k, WARNING, "collector",
		    "this host's clock is %lld s %s the collector's (turn on NTP: timedatectl "
		    "set-ntp true; reports are still accepted and the skew is shown as a finding)",
		    (long long)abs_skew, skew > 0 ? "ahead of" : "behind");
	else
		say(k, OK, "collector", "clocks agree within %lld s", (long long)abs_skew);
}

/* Does the collector know this agent and its key? An empty body signed with
 * the agent's key, posted as a report: the collector checks the agent and
 * the signature before it parses anything (docs/protocol.md, "Reports"), so
 * 400 = known and genuine, 401 = unknown agent or another key, 403 =
 * revoked. Nothing is stored; the collector counts one refused report. */
static void check_enrollment(struct check *k, const struct agent_state *st, const char *base,
			     const struct agent_http_opts *opts)
{
	char url[2048], hdr_agent[160], hdr_sig[160], sig[EP_SIGNATURE_B64_SIZE];
	const char *headers[] = {hdr_agent, hdr_sig, NULL};
	unsigned char raw[EP_SIGNATURE_BYTES];
	struct agent_http_result res;

	ep_sign(&k->key, "", 0, raw);
	ep_base64_encode(raw, sizeof(raw), sig, sizeof(sig));
	ep_snprintf(hdr_agent, sizeof(hdr_agent), "X-Erpulse-Agent: %s", st->agent_id);
	ep_snprintf(hdr_sig, sizeof(hdr_sig), "X-Erpulse-Signature: %s", sig);
	if (agent_endpoint(base, "/api/v1/reports", url, sizeof(url)) < 0 ||
	    agent_http_post(url, headers, "", 0, opts, &res) < 0)
		return;
	if (res.cls != AGENT_HTTP_OK)
		say(k, WARNING, "collector", "could not ask %s about this agent: %s", base,
		    res.error);
	else if (res.status == 400)
		say(k, OK, "collector", "%s knows agent %s and its key", base, st->agent_id);
	else if (res.status == 401)
		say(k, PROBLEM, "collector",
		    "%s does not know agent %s or its key (its store was reset, or this host "
		    "enrolled elsewhere): enroll again: erpulse-agent enroll --force --collector "
		    "%s --token TOKEN",
		    base, st->agent_id, base);
	else if (res.status == 403)
		say(k, PROBLEM, "collector",
		    "%s has revoked agent %s: its reports are refused (ask the vendor for a new "
		    "token, then erpulse-agent enroll --force)",
		    base, st->agent_id);
	else
		say(k, WARNING, "collector", "could not ask %s about this agent (HTTP %ld)", base,
		    res.status);
	ep_buf_free(&res.body);
}

static void check_collector(struct check *k, const struct agent_state *st, bool offline)
{
	const char *base = k->c->collector    ? k->c->collector
			   : st->collector[0] ? st->collector
					      : NULL;
	struct agent_http_opts opts = {.ca_file = k->c->ca_file,
				       .pinned_pubkey = k->c->pinned_pubkey,
				       .proxy = k->c->proxy};
	struct agent_http_result res;
	char url[2048];

	if (!base) {
		say(k, offline ? WARNING : PROBLEM, "collector",
		    "no collector: set collector = https://HOST:PORT here, or run erpulse-agent "
		    "enroll --collector URL --token TOKEN");
		return;
	}
	if (offline) {
		say(k, WARNING, "collector", "%s not checked (--offline)", base);
		return;
	}
	if (agent_endpoint(base, "/healthz", url, sizeof(url)) < 0 ||
	    agent_http_get(url, &opts, &res) < 0) {
		say(k, PROBLEM, "collector", "cannot check '%s' (URL too long or out of memory)",
		    base);
		return;
	}
	switch (res.cls) {
	case AGENT_HTTP_OK:
		say(k, OK, "collector", "%s answered (HTTP %ld) over verified TLS%s%s", base,
		    res.status, k->c->ca_file ? " with ca_file " : "",
		    k->c->ca_file ? k->c->ca_file : "");
		if (res.status == 503)
			say(k, WARNING, "collector",
			    "%s says it is unavailable (HTTP 503: its store is down); reports "
			    "wait in the spool until it recovers",
			    base);
		else if (res.status == 404)
			say(k, WARNING, "collector",
			    "%s has no /healthz: is this an erpulse collector (check the port)?",
			    base);
		if (res.date > 0)
			check_clock(k, res.date);
		else
			say(k, WARNING, "collector",
			    "the answer had no Date header: clocks not compared");
		if (k->have_key)
			check_enrollment(k, st, base, &opts);
		break;
	case AGENT_HTTP_BAD_URL:
		say(k, PROBLEM, "collector", "%s", res.error);
		break;
	case AGENT_HTTP_DNS:
		say(k, UNREACHABLE, "collector",
		    "cannot resolve the host name of %s: %s (check the name and the DNS "
		    "resolver, or use an IP address; --offline skips this check)",
		    base, res.error);
		break;
	case AGENT_HTTP_REFUSED:
		say(k, UNREACHABLE, "collector",
		    "cannot connect to %s: %s (is the collector running on that port? a "
		    "firewall in between? --offline skips this check)",
		    base, res.error);
		break;
	case AGENT_HTTP_TIMEOUT:
		say(k, UNREACHABLE, "collector",
		    "no answer from %s: %s (a firewall dropping packets, or a proxy needed: set "
		    "proxy; --offline skips this check)",
		    base, res.error);
		break;
	case AGENT_HTTP_TLS:
		say(k, PROBLEM, "collector",
		    "TLS verification of %s failed: %s (set ca_file to the PEM of the CA that "
		    "signed the collector's certificate%s, and check the host name matches it)",
		    base, res.error, k->c->pinned_pubkey ? ", and check pinned_pubkey" : "");
		break;
	case AGENT_HTTP_NETWORK:
	case AGENT_HTTP_ABORTED:
		say(k, UNREACHABLE, "collector", "cannot reach %s: %s", base, res.error);
		break;
	}
	ep_buf_free(&res.body);
}

static void check_probes(struct check *k)
{
	const struct agent_conf *c = k->c;
	struct agent_probe_outcome *out = NULL;
	int r = agent_run_probes(c->instances, c->n_instances, c->root, c->state_dir,
				 c->probe_timeout_s * 1000, AGENT_RUN_CHECK, NULL, NULL, &out);

	if (r < 0) {
		fprintf(stderr, "cannot run the probe checks: %s\n", strerror(-r));
		k->problems++;
		return;
	}
	for (size_t i = 0; i < c->n_instances; i++) {
		const struct ep_config_section *s = c->instances[i].section;

		if (out[i].status == EP_STATUS_ERROR) {
			if (s)
				fprintf(stderr, "%s:%d: [%s]: %s\n", s->file ? s->file : c->path,
					s->line, out[i].name, out[i].error);
			else
				fprintf(stderr, "[%s]: %s\n", out[i].name, out[i].error);
			k->problems++;
		} else {
			/* a probe's hint, e.g. the log preset that fits a section without one */
			const char *note =
				json_string_value(json_object_get(out[i].metrics, "note"));
			printf("[%s]: ok%s%s\n", out[i].name, note ? "; " : "", note ? note : "");
		}
	}
	agent_outcomes_free(out, c->n_instances);
}

int agent_check_config(const struct agent_conf *c, bool offline)
{
	struct check k = {.c = c};
	struct agent_state st;
	char err[1024];
	bool have_state = false;

	if (agent_drop_privileges(c, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		k.problems++;
	}
	check_state_dir(&k);
	if (c->ca_file && access(c->ca_file, R_OK) != 0)
		say(&k, PROBLEM, "ca_file", "cannot read '%s': %s", c->ca_file, strerror(errno));
	if (agent_state_load(c->state_dir, &st, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		k.problems++;
		memset(&st, 0, sizeof(st));
	} else {
		have_state = true;
		check_key(&k, &st);
	}
	check_collector(&k, &st, offline);
	if (have_state)
		agent_state_free(&st);
	ep_key_wipe(&k.key);
	check_probes(&k);
	if (k.problems) {
		fprintf(stderr, "%d problem(s) found%s\n", k.problems,
			k.problems == k.offline ? " (the collector cannot be reached)" : "");
		return k.problems == k.offline ? AGENT_EXIT_UNDELIVERED : AGENT_EXIT_CONFIG;
	}
	if (k.warnings)
		printf("configuration OK, %d warning(s)\n", k.warnings);
	else
		printf("configuration OK\n");
	return AGENT_EXIT_OK;
}
