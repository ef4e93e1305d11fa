/* store-size: fills a store with HOSTS hosts reporting every INTERVAL
 * seconds for DAYS simulated days, through the store's own ingest path with
 * the analysis (samples, findings, score history, alerts) -- no HTTP, no
 * signatures: what is measured is what the store keeps. Each body is the
 * template (a real report, e.g. `erpulse-agent once --print`) with its
 * agent_id, seq, generated_at and hostname set and its measurements moved a
 * little (every real number, rounded to 2 decimals as the probes do, and
 * every integer above 1000, by up to +-2 %; not a finding's threshold),
 * as consecutive reports of one host differ. The maintenance (compression
 * dictionary, retention) runs at the end of every simulated day.
 * Prints the reports stored and the collector CPU per report; the store's
 * bytes are read by tests/bench/store-size.sh.
 * STORE_SIZE_CHECK=1 also runs what the collector's checkers do with each
 * body before the batch (strict parse and schema check, findings text,
 * compression; no signature), so that the whole per-report path can be
 * counted deterministically, e.g. under valgrind --tool=callgrind for an
 * A/B of two trees (docs/store.md "cpu branch").
 *
 *   store-size STORE_URL TEMPLATE.json HOSTS DAYS INTERVAL_S KEEP_RAW_DAYS
 * Builds against older trees too (KEEP_RAW_DAYS needs schema 8). */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "collector/analysis/analysis.h"
#include "collector/analysis/pipeline.h"
#include "collector/store/store.h"
#if COLL_SCHEMA_VERSION >= 8
#include "collector/store/codec.h"
#endif
#include "erpulse/crypto.h"
#include "erpulse/report.h"
#include "erpulse/util.h"

#define DAY 86400

static uint64_t rng = 88172645463325252ull;

static double noise(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return ((double)(rng % 4001) - 2000.0) / 100000.0; /* +-2 % */
}

static void jitter(json_t *j)
{
	const char *k;
	json_t *v;
	size_t i;
	if (json_is_object(j)) {
		json_object_foreach(j, k, v)
		{
			/* a finding's threshold is the agent's setting, not a
			 * measurement: moving it made every report refit its
			 * forecasts (a changed limit does) */
			if (strcmp(k, "threshold") == 0)
				continue;
			if (json_is_real(v)) /* agents send rounded measurements */
				json_real_set(v, round(json_real_value(v) * (1 + noise()) * 100) /
							 100);
			else if (json_is_integer(v) && json_integer_value(v) > 1000)
				json_integer_set(v, (json_int_t)((double)json_integer_value(v) *
								 (1 + noise())));
			else
				jitter(v);
		}
	} else if (json_is_array(j)) {
		json_array_foreach(j, i, v) jitter(v);
	}
}

#if COLL_SCHEMA_VERSION >= 8
/* The checker's work on one body (http/api_reports.c check_one, without the
 * signature): *report becomes the parsed body, as the batch gets it. */
static int checked(struct coll_ingest *it, json_t **report, const char *body, size_t len)
{
	char err[256];
	json_t *parsed = NULL;
	if (ep_report_parse(body, len, EP_REPORT_MAX_BYTES, &parsed, err, sizeof(err)) < 0) {
		fprintf(stderr, "store-size: parse: %s\n", err);
		return -1;
	}
	json_decref(*report);
	*report = parsed;
	it->findings_json = coll_store_findings_json(parsed);
	void *z = NULL;
	size_t zlen = 0;
	if (coll_codec_compress(body, len, &z, &zlen) == 0) {
		it->stored = z;
		it->stored_len = zlen;
	}
	return 0;
}
#endif

static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

int main(int argc, char **argv)
{
	if (argc != 7) {
		fprintf(stderr, "usage: store-size STORE_URL TEMPLATE.json HOSTS DAYS INTERVAL_S "
				"KEEP_RAW_DAYS\n");
		return 2;
	}
	int64_t hosts = 0, days = 0, interval = 0, keep_raw = -1;
	json_error_t je;
	json_t *tpl = json_load_file(argv[2], 0, &je);
	if (!tpl || ep_parse_int64(argv[3], 1, 1000000, &hosts) < 0 ||
	    ep_parse_int64(argv[4], 1, 3650, &days) < 0 ||
	    ep_parse_int64(argv[5], 1, 86400, &interval) < 0 ||
	    ep_parse_int64(argv[6], 0, 36500, &keep_raw) < 0) {
		fprintf(stderr, "store-size: bad arguments (%s)\n", tpl ? "numbers" : je.text);
		return 2;
	}
	ep_crypto_init();
	const char *check_env = getenv("STORE_SIZE_CHECK");
	bool check = check_env && strcmp(check_env, "1") == 0;
	(void)check; /* a tree before zstd (schema 8) has no such path */
	struct coll_store *s = NULL;
	char err[512] = "", cid[COLL_ID_SIZE];
	struct coll_db_opts o = {.statement_timeout_ms = 60000, .busy_timeout_ms = 5000};
	if (coll_store_open(argv[1], &o, &s, err, sizeof(err)) < 0 || coll_store_migrate(s) < 0) {
		fprintf(stderr, "store-size: %s%s\n", err, s ? s->err : "");
		return 1;
	}
#if COLL_SCHEMA_VERSION >= 8
	s->keep_raw_days = keep_raw;
#else
	(void)keep_raw;
#endif
	int64_t now = ep_wall_ms() / 1000, start = now - now % DAY - (int64_t)days * DAY;
	if (coll_store_customer_add(s, "Bench", start, cid) < 0)
		return 1;
	char(*aid)[COLL_ID_SIZE] = calloc((size_t)hosts, COLL_ID_SIZE);
	for (int h = 0; h < hosts; h++) {
		char token[64], hash[65], pk[EP_PUBLIC_KEY_B64_SIZE], got[COLL_ID_SIZE], name[32];
		struct ep_keypair kp;
		snprintf(token, sizeof(token), "ept_bench_%d", h);
		ep_hash_secret(token, hash);
		ep_key_generate(&kp);
		ep_base64_encode(kp.public_key, 32, pk, sizeof(pk));
		snprintf(name, sizeof(name), "erp%05d", h);
		struct coll_enroll e = {hash, name, pk, "0.1.0", start, interval};
		if (coll_store_token_add(s, cid, hash, 1, start + DAY, start) < 0 ||
		    coll_store_enroll(s, &e, aid[h], got) < 0) {
			fprintf(stderr, "store-size: enroll: %s\n", s->err);
			return 1;
		}
	}
	struct coll_analysis an = {
		.forecast_window_s = 30 * DAY, .sample_interval_s = 600, .max_forecasts = 64};
	struct coll_ingest *it = calloc((size_t)hosts, sizeof(*it));
	struct coll_ingest **items = calloc((size_t)hosts, sizeof(*items));
	char **bodies = calloc((size_t)hosts, sizeof(*bodies));
	json_t **reps = calloc((size_t)hosts, sizeof(*reps));
	int64_t stored = 0, seq = 0, body_bytes = 0;
	double cpu0 = cpu_s();
	for (int64_t t = start; t < start + (int64_t)days * DAY; t += interval) {
		seq++;
		char when[32];
		ep_time_format((time_t)t, when, sizeof(when));
		for (int h = 0; h < hosts; h++) {
			json_t *r = json_deep_copy(tpl);
			jitter(json_object_get(r, "probes"));
			json_object_set_new(r, "agent_id", json_string(aid[h]));
			json_object_set_new(r, "seq", json_integer(seq));
			json_object_set_new(r, "generated_at", json_string(when));
			json_object_set_new(r, "interval_s", json_integer(interval));
			json_t *host = json_object_get(r, "host");
			char name[32];
			snprintf(name, sizeof(name), "erp%05d", h);
			if (json_is_object(host))
				json_object_set_new(host, "hostname", json_string(name));
			size_t len;
			bodies[h] = ep_report_serialize(r, &len);
			body_bytes += (int64_t)len;
			memset(&it[h], 0, sizeof(it[h]));
			coll_store_agent_get(s, aid[h], &it[h].agent);
#if COLL_SCHEMA_VERSION >= 8
			if (check && checked(&it[h], &r, bodies[h], len) < 0)
				return 1;
#endif
			it[h].report = r;
			it[h].body = bodies[h];
			it[h].len = len;
			it[h].seq = seq;
			it[h].received_at = t;
			items[h] = &it[h];
			reps[h] = r;
		}
		if (coll_store_ingest(s, items, (size_t)hosts, &an) < 0) {
			fprintf(stderr, "store-size: ingest: %s\n", s->err);
			return 1;
		}
		for (int h = 0; h < hosts; h++) {
			stored += it[h].result == COLL_INGEST_ACCEPTED;
#if COLL_SCHEMA_VERSION >= 8
			free((void *)(uintptr_t)it[h].findings_json);
			free((void *)(uintptr_t)it[h].stored);
#endif
			free(bodies[h]);
			json_decref(reps[h]);
		}
		if ((t + interval) % DAY >= interval)
			continue;
			/* the day's end: the collector's maintenance */
#if COLL_SCHEMA_VERSION >= 8
		if (coll_store_codec_maintain(s, t + interval) < 0) {
			fprintf(stderr, "store-size: dictionary: %s\n", s->err);
			return 1;
		}
#endif
		if (coll_store_retention(s, t + interval, 30 * DAY, 400 * DAY) < 0) {
			fprintf(stderr, "store-size: retention: %s\n", s->err);
			return 1;
		}
	}
	double cpu = cpu_s() - cpu0;
	printf("reports %lld body_bytes %lld cpu_us_per_report %.0f\n", (long long)stored,
	       (long long)body_bytes, stored ? cpu * 1e6 / (double)stored : 0.0);
	coll_store_close(s);
	free(aid);
	free(it);
	free(items);
	free(bodies);
	free(reps);
	json_decref(tpl);
	return stored > 0 ? 0 : 1;
}
