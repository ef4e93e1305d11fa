/* The agent's configuration: the [agent] options table (which documents
 * them: docs/agent.md is written from it) and the validation of every probe
 * section against its probe's own table. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"

const struct ep_option agent_options[] = {
	{"collector", EP_OPT_STRING, NULL, 0, 0,
	 "collector base URL (https://host:port); default: the URL given to enroll"},
	{"interval", EP_OPT_DURATION, "300", 1, 86400, "seconds between cycles"},
	{"jitter", EP_OPT_DURATION, "30", 0, 3600,
	 "random spread added to each cycle (and before the first) so a fleet never pushes in "
	 "lockstep"},
	{"state_dir", EP_OPT_STRING, "/var/lib/erpulse", 0, 0,
	 "agent key, state file and spool/ live here"},
	{"spool_max_mb", EP_OPT_INT, "64", 1, 102400,
	 "the spool never holds more; the oldest reports are dropped (and counted) first"},
	{"spool_max_age", EP_OPT_DURATION, "7d", 0, 366 * 86400,
	 "reports older than this are dropped from the spool (0 = no age limit)"},
	{"ca_file", EP_OPT_STRING, NULL, 0, 0,
	 "PEM file of CA certificates trusted for the collector (default: the system store)"},
	{"pinned_pubkey", EP_OPT_STRING, NULL, 0, 0,
	 "collector public-key pin: sha256//BASE64[;sha256//...] or a PEM/DER file"},
	{"proxy", EP_OPT_STRING, NULL, 0, 0,
	 "HTTPS proxy URL (default: the https_proxy / no_proxy environment variables)"},
	{"probe_timeout", EP_OPT_DURATION, "60", 1, 3600,
	 "deadline of each probe instance; a probe still running is killed and reported"},
	{"log_level", EP_OPT_STRING, "info", 0, 0, "err, warning, notice, info or debug"},
	{"allow_root", EP_OPT_BOOL, "no", 0, 0,
	 "keep running as root instead of switching to `user` (not recommended)"},
	{"user", EP_OPT_STRING, "erpulse", 0, 0,
	 "account the daemon switches to when started as root"},
	{"root", EP_OPT_STRING, "/", 0, 0,
	 "filesystem root the probes read below (for tests and containers)"},
	{NULL, 0, NULL, 0, 0, NULL},
};

static void problem(struct ep_buf *problems, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void problem(struct ep_buf *problems, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)ep_buf_vprintf(problems, fmt, ap);
	va_end(ap);
	(void)ep_buf_append(problems, "\n", 1);
}

/* The names of the probes, and in hint " (did you mean 'x'?)" when one is
 * close to word. */
static void known_probes(const char *word, char *buf, size_t size, char *hint, size_t hsize)
{
	size_t off = 0, best_d = SIZE_MAX;
	const char *best = NULL;

	buf[0] = '\0';
	hint[0] = '\0';
	for (size_t i = 0; ep_probe_registry[i]; i++) {
		size_t d = ep_edit_distance(word, ep_probe_registry[i]->name);

		if (d < best_d) {
			best_d = d;
			best = ep_probe_registry[i]->name;
		}
	}
	if (best && best_d <= 2 && best_d < strlen(word))
		ep_snprintf(hint, hsize, "did you mean '%s'? ", best);
	for (size_t i = 0; ep_probe_registry[i]; i++) {
		int n = snprintf(buf + off, size - off, "%s%s", i ? ", " : "",
				 ep_probe_registry[i]->name);
		if (n < 0 || (size_t)n >= size - off)
			break;
		off += (size_t)n;
	}
}

static int add_instance(struct agent_conf *c, const struct ep_probe *p,
			const struct ep_config_section *s)
{
	struct agent_instance *n =
		realloc(c->instances, (c->n_instances + 1) * sizeof(*c->instances));
	if (!n)
		return -ENOMEM;
	c->instances = n;
	n[c->n_instances].probe = p;
	n[c->n_instances].section = s;
	ep_snprintf(n[c->n_instances].name, sizeof(n[c->n_instances].name), "%s",
		    s ? s->name : p->name);
	c->n_instances++;
	return 0;
}

/* Every problem of a section, not just the first: each key is checked on
 * its own (ep_config_check stops at the first). Returns the count. */
static int check_section(const struct ep_config_section *s, const struct ep_option *opts,
			 struct ep_buf *problems)
{
	int n = 0;

	for (size_t i = 0; i < s->n_entries; i++) {
		struct ep_config_section one = *s;
		char err[1024];

		one.n_entries = 1;
		one.entries = &s->entries[i];
		if (ep_config_check(&one, opts, err, sizeof(err)) < 0) {
			problem(problems, "%s", err);
			n++;
		}
	}
	return n;
}

static bool name_ok(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' || *s == '.'))
			return false;
	return true;
}

int agent_conf_load(const char *path, struct agent_conf **ret, struct ep_buf *problems)
{
	struct agent_conf *c = calloc(1, sizeof(*c));
	char err[1024] = "";
	const struct ep_config_section *as;
	const char *level = NULL;
	int r, nprob = 0;

	if (!c)
		return -ENOMEM;
	c->path = strdup(path);
	if (!c->path) {
		free(c);
		return -ENOMEM;
	}
	r = ep_config_load(path, &c->cfg, err, sizeof(err));
	if (r < 0) {
		if (r == -EINVAL)
			problem(problems, "%s", err);
		else
			problem(problems, "cannot read configuration '%s': %s%s", path,
				strerror(-r),
				r == -ENOENT ? " (create it from agent.conf.example, or pass "
					       "--config PATH)"
					     : "");
		agent_conf_free(c);
		return r == -EINVAL ? -EINVAL : r;
	}

	as = ep_config_find(c->cfg, "agent");
	if (as)
		nprob += check_section(as, agent_options, problems);
		/* the per-key check above reported bad values already */
#define GET(fn, key, dst)                                                                          \
	do {                                                                                       \
		r = fn(as, agent_options, key, dst, err, sizeof(err));                             \
		if (r < 0 && r != -ENOENT && nprob == 0) {                                         \
			problem(problems, "%s", err);                                              \
			nprob++;                                                                   \
		}                                                                                  \
	} while (0)
	GET(ep_config_get_string, "collector", &c->collector);
	GET(ep_config_get_duration, "interval", &c->interval_s);
	GET(ep_config_get_duration, "jitter", &c->jitter_s);
	GET(ep_config_get_string, "state_dir", &c->state_dir);
	GET(ep_config_get_int, "spool_max_mb", &c->spool_max_bytes);
	GET(ep_config_get_duration, "spool_max_age", &c->spool_max_age_s);
	GET(ep_config_get_string, "ca_file", &c->ca_file);
	GET(ep_config_get_string, "pinned_pubkey", &c->pinned_pubkey);
	GET(ep_config_get_string, "proxy", &c->proxy);
	GET(ep_config_get_duration, "probe_timeout", &c->probe_timeout_s);
	GET(ep_config_get_string, "log_level", &level);
	GET(ep_config_get_bool, "allow_root", &c->allow_root);
	GET(ep_config_get_string, "user", &c->user);
	GET(ep_config_get_string, "root", &c->root);
#undef GET
	c->spool_max_bytes *= 1024 * 1024;
	c->log_level = EP_LOG_INFO;
	if (level && ep_log_level_parse(level, &c->log_level) < 0) {
		problem(problems,
			"%s: [agent] log_level: '%s' is not a level (use err, warning, notice, "
			"info "
			"or debug)",
			path, level);
		nprob++;
	}
	if (c->collector && strncmp(c->collector, "https://", 8) != 0) {
		problem(problems, "%s: [agent] collector: '%s' must start with https://", path,
			c->collector);
		nprob++;
	}
	if (c->state_dir && c->state_dir[0] != '/') {
		problem(problems, "%s: [agent] state_dir: '%s' must be an absolute path", path,
			c->state_dir);
		nprob++;
	}
	if (!c->state_dir)
		c->state_dir = "/var/lib/erpulse";
	if (!c->root)
		c->root = "/";
	if (!c->user)
		c->user = "erpulse";

	/* probe sections */
	for (size_t i = 0; i < c->cfg->n_sections; i++) {
		const struct ep_config_section *s = &c->cfg->sections[i];
		const struct ep_probe *p;

		if (strcmp(s->name, "agent") == 0)
			continue;
		p = ep_probe_lookup(s->type);
		if (!p) {
			char names[512], hint[128];

			known_probes(s->type, names, sizeof(names), hint, sizeof(hint));
			problem(problems,
				"%s:%d: [%s]: unknown section type '%s' (%sknown probes: %s)",
				s->file ? s->file : path, s->line, s->name, s->type, hint, names);
			nprob++;
			continue;
		}
		if (!name_ok(s->name)) {
			problem(problems,
				"%s:%d: [%s]: instance names may use letters, digits, '_' and '-' "
				"only",
				s->file ? s->file : path, s->line, s->name);
			nprob++;
			continue;
		}
		if (check_section(s, p->options, problems) > 0) {
			nprob++;
			continue;
		}
		if (add_instance(c, p, s) < 0) {
			agent_conf_free(c);
			return -ENOMEM;
		}
	}
	/* probes on by default without a section */
	for (size_t i = 0; ep_probe_registry[i]; i++) {
		const struct ep_probe *p = ep_probe_registry[i];
		bool seen = false;

		if (!p->enabled_by_default)
			continue;
		for (size_t k = 0; k < c->cfg->n_sections; k++)
			if (strcmp(c->cfg->sections[k].type, p->name) == 0)
				seen = true;
		if (!seen && add_instance(c, p, NULL) < 0) {
			agent_conf_free(c);
			return -ENOMEM;
		}
	}
	if (nprob) {
		agent_conf_free(c);
		return -EINVAL;
	}
	*ret = c;
	return 0;
}

void agent_conf_free(struct agent_conf *c)
{
	if (!c)
		return;
	ep_config_free(c->cfg);
	free(c->instances);
	free(c->path);
	free(c);
}
