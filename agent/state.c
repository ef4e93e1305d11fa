/* The agent's state file (state_dir/state): enrollment, the next seq, the
 * count of dropped reports not yet announced, the last delivery and each
 * probe instance's last status. JSON, always replaced atomically, so a crash
 * leaves either the old or the new file. Probe-owned state (log offsets, a
 * journal cursor) lives beside it in state_dir/probes/INSTANCE.json. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/agent.h"

#define STATE_MAX_BYTES (4 * 1024 * 1024)

static void copy_str(json_t *o, const char *key, char *dst, size_t size)
{
	const char *s = json_string_value(json_object_get(o, key));

	dst[0] = '\0';
	if (s)
		ep_snprintf(dst, size, "%s", s);
}

static int64_t get_int(json_t *o, const char *key, int64_t def)
{
	json_t *v = json_object_get(o, key);

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : def;
}

int agent_state_load(const char *state_dir, struct agent_state *ret, char *err, size_t errlen)
{
	char path[4096];
	char *data = NULL;
	size_t len = 0;
	json_t *o = NULL;
	json_error_t jerr;
	int r;

	memset(ret, 0, sizeof(*ret));
	ret->next_seq = 1;
	ret->probes = json_object();
	if (!ret->probes)
		return -ENOMEM;
	if (ep_snprintf(path, sizeof(path), "%s/state", state_dir) < 0) {
		agent_state_free(ret);
		return -ENAMETOOLONG;
	}
	r = ep_read_file(path, STATE_MAX_BYTES, &data, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		ep_snprintf(err, errlen, "cannot read state file '%s': %s", path, strerror(-r));
		agent_state_free(ret);
		return r;
	}
	o = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	free(data);
	if (!json_is_object(o)) {
		ep_snprintf(err, errlen,
			    "state file '%s' is corrupt (%s); move it away and enroll again", path,
			    o ? "not an object" : jerr.text);
		json_decref(o);
		agent_state_free(ret); /* nothing for the caller to free */
		return -EINVAL;
	}
	copy_str(o, "agent_id", ret->agent_id, sizeof(ret->agent_id));
	copy_str(o, "customer_id", ret->customer_id, sizeof(ret->customer_id));
	copy_str(o, "collector", ret->collector, sizeof(ret->collector));
	copy_str(o, "last_push", ret->last_push, sizeof(ret->last_push));
	ret->next_seq = get_int(o, "next_seq", 1);
	if (ret->next_seq < 1)
		ret->next_seq = 1;
	if (ret->next_seq > AGENT_SEQ_MAX)
		ret->next_seq = AGENT_SEQ_MAX; /* corrupt: the counter would overflow */
	ret->dropped = get_int(o, "dropped", 0);
	if (ret->dropped < 0)
		ret->dropped = 0;
	if (ret->dropped > AGENT_SEQ_MAX)
		ret->dropped = AGENT_SEQ_MAX;
	ret->last_push_at = get_int(o, "last_push_at", 0);
	ret->last_ok_at = get_int(o, "last_ok_at", 0);
	if (json_is_object(json_object_get(o, "probes")))
		json_object_update(ret->probes, json_object_get(o, "probes"));
	json_decref(o);
	return 0;
}

int agent_state_save(const char *state_dir, const struct agent_state *st)
{
	char path[4096];
	char *text;
	json_t *o;
	int r;

	if (ep_snprintf(path, sizeof(path), "%s/state", state_dir) < 0)
		return -ENAMETOOLONG;
	o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:I, s:O}", "agent_id", st->agent_id,
		      "customer_id", st->customer_id, "collector", st->collector, "next_seq",
		      (json_int_t)st->next_seq, "dropped", (json_int_t)st->dropped, "last_push_at",
		      (json_int_t)st->last_push_at, "last_push", st->last_push, "last_ok_at",
		      (json_int_t)st->last_ok_at, "probes",
		      st->probes ? st->probes : json_object());
	if (!o)
		return -ENOMEM;
	text = json_dumps(o, JSON_INDENT(1) | JSON_SORT_KEYS);
	json_decref(o);
	if (!text)
		return -ENOMEM;
	r = ep_atomic_write(path, text, strlen(text), 0600);
	free(text);
	return r;
}

void agent_state_free(struct agent_state *st)
{
	if (!st)
		return;
	json_decref(st->probes);
	st->probes = NULL;
}

bool agent_state_enrolled(const struct agent_state *st)
{
	return st->agent_id[0] != '\0';
}

static int probe_state_path(const char *state_dir, const char *instance, char *buf, size_t size)
{
	return ep_snprintf(buf, size, "%s/probes/%s.json", state_dir, instance);
}

json_t *agent_probe_state_load(const char *state_dir, const char *instance)
{
	char path[4096];
	char *data = NULL;
	size_t len = 0;
	json_t *o = NULL;

	if (probe_state_path(state_dir, instance, path, sizeof(path)) == 0 &&
	    ep_read_file(path, STATE_MAX_BYTES, &data, &len) == 0) {
		o = json_loadb(data, len, JSON_REJECT_DUPLICATES, NULL);
		free(data);
	}
	if (!json_is_object(o)) {
		json_decref(o);
		o = json_object();
	}
	return o;
}

int agent_probe_state_save(const char *state_dir, const char *instance, const json_t *state)
{
	char path[4096], dir[4096];
	char *text;
	int r;

	if (probe_state_path(state_dir, instance, path, sizeof(path)) < 0 ||
	    ep_snprintf(dir, sizeof(dir), "%s/probes", state_dir) < 0)
		return -ENAMETOOLONG;
	r = ep_mkdir_p(dir, 0700);
	if (r < 0)
		return r;
	text = json_dumps(state, JSON_COMPACT | JSON_SORT_KEYS);
	if (!text)
		return -ENOMEM;
	r = ep_atomic_write(path, text, strlen(text), 0600);
	free(text);
	return r;
}
