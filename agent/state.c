/* The agent's state file (state_dir/state): enrollment, the next seq, the
 * count of dropped reports no accepted report has announced, the last delivery and each
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
#define DROP_MARKS_MAX  256 /* past this the oldest is forgotten: drops announced longer */

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
	ret->dropped_total = get_int(o, "dropped_total", ret->dropped);
	if (ret->dropped_total < ret->dropped || ret->dropped_total > AGENT_SEQ_MAX)
		ret->dropped_total = ret->dropped;
	ret->drop_marks = json_array();
	if (!ret->drop_marks) {
		json_decref(o);
		agent_state_free(ret);
		return -ENOMEM;
	}
	{
		json_t *marks = json_object_get(o, "drop_marks"), *m;
		size_t i;
		json_array_foreach(marks, i, m)
		{
			json_t *seq = json_array_get(m, 0), *total = json_array_get(m, 1);
			/* kept only when sane: a bad mark means drops are announced longer */
			if (json_array_size(m) == 2 && json_is_integer(seq) &&
			    json_integer_value(seq) >= 1 && json_is_integer(total) &&
			    json_integer_value(total) >= 0 &&
			    json_integer_value(total) <= ret->dropped_total &&
			    json_array_size(ret->drop_marks) < DROP_MARKS_MAX)
				json_array_append(ret->drop_marks, m);
		}
	}
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
	o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:o, s:I, s:s, s:I, s:O}", "agent_id",
		      st->agent_id, "customer_id", st->customer_id, "collector", st->collector,
		      "next_seq", (json_int_t)st->next_seq, "dropped", (json_int_t)st->dropped,
		      "dropped_total", (json_int_t)st->dropped_total, "drop_marks",
		      st->drop_marks ? json_incref(st->drop_marks) : json_array(), "last_push_at",
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
	json_decref(st->drop_marks);
	st->drop_marks = NULL;
}

static int64_t mark_int(json_t *marks, size_t i, size_t field)
{
	return (int64_t)json_integer_value(json_array_get(json_array_get(marks, i), field));
}

void agent_state_count_drops(struct agent_state *st, int64_t n)
{
	if (n <= 0)
		return;
	st->dropped = st->dropped > AGENT_SEQ_MAX - n ? AGENT_SEQ_MAX : st->dropped + n;
	st->dropped_total =
		st->dropped_total > AGENT_SEQ_MAX - n ? AGENT_SEQ_MAX : st->dropped_total + n;
	if (st->dropped > st->dropped_total)
		st->dropped = st->dropped_total;
}

int agent_state_report_built(struct agent_state *st, int64_t seq)
{
	size_t n;

	if (!st->drop_marks && !(st->drop_marks = json_array()))
		return -ENOMEM;
	/* a seq used again (its report was never made) replaces its mark */
	while ((n = json_array_size(st->drop_marks)) > 0 &&
	       mark_int(st->drop_marks, n - 1, 0) >= seq)
		json_array_remove(st->drop_marks, n - 1);
	int64_t last = n > 0 ? mark_int(st->drop_marks, n - 1, 1) : st->dropped_total - st->dropped;
	if (last == st->dropped_total)
		return 0; /* nothing new since: the last mark (or none) says it */
	if (json_array_append_new(st->drop_marks, json_pack("[I, I]", (json_int_t)seq,
							    (json_int_t)st->dropped_total)) < 0)
		return -ENOMEM;
	if (json_array_size(st->drop_marks) > DROP_MARKS_MAX)
		json_array_remove(st->drop_marks, 0);
	return 0;
}

void agent_state_report_accepted(struct agent_state *st, int64_t seq)
{
	size_t n = json_array_size(st->drop_marks), k = n;

	for (size_t i = 0; i < n && mark_int(st->drop_marks, i, 0) <= seq; i++)
		k = i;
	if (k == n)
		return; /* built when nothing new was dropped: it announced what is known */
	int64_t announced = mark_int(st->drop_marks, k, 1);
	if (announced > st->dropped_total - st->dropped && announced <= st->dropped_total)
		st->dropped = st->dropped_total - announced;
	for (size_t i = 0; i <= k; i++)
		json_array_remove(st->drop_marks, 0);
}

void agent_state_forget_builds(struct agent_state *st)
{
	json_array_clear(st->drop_marks);
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
	char *text, *old = NULL;
	size_t len, oldlen = 0;
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
	len = strlen(text);
	/* a state that did not change (a cached result, offsets that did not
	 * move) is not written again: reading it back costs less than a
	 * temp file, two fsyncs and a rename every cycle */
	if (ep_read_file(path, len, &old, &oldlen) == 0 && oldlen == len &&
	    memcmp(old, text, len) == 0)
		r = 0;
	else
		r = ep_atomic_write(path, text, len, 0600);
	free(old);
	free(text);
	return r;
}
