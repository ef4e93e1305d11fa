/* The forecasts' fit state of a host (fitstate.h; docs/forecasts.md "Refit
 * and the cached path"): kept in memory as flat arrays, stored as one
 * binary row that every report between refits reads. The row was a JSON
 * object (migration 13) whose parse cost ~8% of the collector's CPU, on
 * every report; this one is read with a few bounds checks and copies.
 *
 * The row, all integers little-endian:
 *   "EPF" FIT_VERSION  4 bytes
 *   u32 entries, i64 updated_at, i64 interval
 *   per entry: u8 type, u8 0, u16 name length, u16 numbers, u16 0,
 *              i64 last_t, the name's bytes, the numbers (IEEE 754 bits)
 *   u64 SipHash-2-4 of everything before (a fixed key)
 * It comes from our own store, but a length read from it is still checked
 * before use, and a row that is not whole is refused (the host refits). */
#include <errno.h>
#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "collector/analysis/fitstate.h"
#include "collector/store/sql.h"
#include "erpulse/report.h"
#include "erpulse/util.h"

#define FIT_VERSION 3
#define HEAD_BYTES  24
#define ENTRY_BYTES 16
#define SUM_BYTES   8
#define MAX_ENTRIES 4096
#define MAX_NAME    (2 * EP_REPORT_MAX_STRING + 2) /* "kind:object" */

void coll_fit_state_free(struct coll_fit_state *fs)
{
	free(fs->e);
	free(fs->names);
	free(fs->nums);
	*fs = (struct coll_fit_state){0};
}

/* Room in *v (*cap elements of size bytes) for need elements in all. */
static int reserve(void **v, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return 0;
	size_t ncap = *cap ? *cap : 16;
	while (ncap < need)
		ncap *= 2;
	void *nv = realloc(*v, ncap * size);
	if (!nv)
		return -ENOMEM;
	*v = nv;
	*cap = ncap;
	return 0;
}

static struct coll_fit_entry *find(const struct coll_fit_state *fs, const char *series, size_t len)
{
	for (size_t i = 0; i < fs->n; i++)
		if (fs->e[i].name_len == len && memcmp(fs->names + fs->e[i].name, series, len) == 0)
			return &fs->e[i];
	return NULL;
}

struct coll_fit_entry *coll_fit_state_get(const struct coll_fit_state *fs, const char *series,
					  enum coll_fit_type t)
{
	struct coll_fit_entry *e = find(fs, series, strlen(series));
	return e && e->type == t ? e : NULL;
}

/* Appends the entry without looking for its name. */
static int append(struct coll_fit_state *fs, const char *series, size_t len,
		  enum coll_fit_type type, int64_t last_t, const double *v, size_t n)
{
	if (reserve((void **)&fs->e, &fs->cap, fs->n + 1, sizeof(*fs->e)) < 0 ||
	    reserve((void **)&fs->names, &fs->names_cap, fs->names_len + len + 1, 1) < 0 ||
	    reserve((void **)&fs->nums, &fs->nums_cap, fs->nums_len + n, sizeof(*fs->nums)) < 0)
		return -ENOMEM;
	fs->e[fs->n++] = (struct coll_fit_entry){.name = fs->names_len,
						 .name_len = len,
						 .num = fs->nums_len,
						 .n = n,
						 .type = type,
						 .last_t = last_t};
	memcpy(fs->names + fs->names_len, series, len);
	fs->names[fs->names_len + len] = '\0';
	fs->names_len += len + 1;
	if (n)
		memcpy(fs->nums + fs->nums_len, v, n * sizeof(*v));
	fs->nums_len += n;
	return 0;
}

int coll_fit_state_put(struct coll_fit_state *fs, const char *series, enum coll_fit_type type,
		       int64_t last_t, const double *v, size_t n)
{
	size_t len = strlen(series);
	struct coll_fit_entry *e = find(fs, series, len);
	if (!e)
		return append(fs, series, len, type, last_t, v, n);
	/* a series twice in one report: the last one wins (its numbers at
	 * the end when their count changed; the old ones are left unused) */
	if (e->n != n) {
		if (reserve((void **)&fs->nums, &fs->nums_cap, fs->nums_len + n,
			    sizeof(*fs->nums)) < 0)
			return -ENOMEM;
		e->num = fs->nums_len;
		e->n = n;
		fs->nums_len += n;
	}
	e->type = type;
	e->last_t = last_t;
	if (n)
		memcpy(fs->nums + e->num, v, n * sizeof(*v));
	return 0;
}

/* ---- the binary row ------------------------------------------------------ */

static const unsigned char sum_key[crypto_shorthash_KEYBYTES] = {
	'e', 'r', 'p', 'u', 'l', 's', 'e', '-', 'f', 'i', 't', 's', 't', 'a', 't', 'e'};

static void put_u64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_u64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void put_u16(unsigned char *p, size_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static void put_u32(unsigned char *p, size_t v)
{
	put_u16(p, v & 0xffff);
	put_u16(p + 2, v >> 16);
}

static size_t get_u16(const unsigned char *p)
{
	return (size_t)p[0] | (size_t)p[1] << 8;
}

static uint64_t checksum(const unsigned char *p, size_t len)
{
	unsigned char out[crypto_shorthash_BYTES];
	crypto_shorthash(out, p, len, sum_key);
	return get_u64(out);
}

void coll_fit_state_seal(unsigned char *row, size_t len)
{
	put_u64(row + len - SUM_BYTES, checksum(row, len - SUM_BYTES));
}

int coll_fit_state_encode(const struct coll_fit_state *fs, unsigned char **ret, size_t *ret_len)
{
	if (fs->n > MAX_ENTRIES)
		return -E2BIG;
	size_t len = HEAD_BYTES + SUM_BYTES;
	for (size_t i = 0; i < fs->n; i++) {
		if (fs->e[i].name_len == 0 || fs->e[i].name_len > MAX_NAME || fs->e[i].n > 0xffff)
			return -E2BIG;
		len += ENTRY_BYTES + fs->e[i].name_len + 8 * fs->e[i].n;
	}
	unsigned char *b = malloc(len), *p = b;
	if (!b)
		return -ENOMEM;
	memcpy(p, "EPF", 3);
	p[3] = FIT_VERSION;
	put_u32(p + 4, fs->n);
	put_u64(p + 8, (uint64_t)fs->updated_at);
	put_u64(p + 16, (uint64_t)fs->interval);
	p += HEAD_BYTES;
	for (size_t i = 0; i < fs->n; i++) {
		const struct coll_fit_entry *e = &fs->e[i];
		memset(p, 0, ENTRY_BYTES);
		p[0] = (unsigned char)e->type;
		put_u16(p + 2, e->name_len);
		put_u16(p + 4, e->n);
		put_u64(p + 8, (uint64_t)e->last_t);
		p += ENTRY_BYTES;
		memcpy(p, fs->names + e->name, e->name_len);
		p += e->name_len;
		for (size_t k = 0; k < e->n; k++, p += 8) {
			uint64_t bits;
			memcpy(&bits, &fs->nums[e->num + k], sizeof(bits));
			put_u64(p, bits);
		}
	}
	coll_fit_state_seal(b, len);
	*ret = b;
	*ret_len = len;
	return 0;
}

/* Whether an entry of type t may have n numbers. */
static bool count_ok(int t, size_t n)
{
	switch (t) {
	case COLL_FIT_LINEAR:
		return n == COLL_FIT_L_COUNT;
	case COLL_FIT_SPIKE:
		return n >= COLL_FIT_S_COUNT && n % COLL_FIT_S_COUNT == 0 &&
		       n <= COLL_FIT_SPIKE_BUCKETS * COLL_FIT_S_COUNT;
	case COLL_FIT_SECURITY:
		return n == COLL_FIT_U_COUNT;
	default:
		return false;
	}
}

static int decode(const unsigned char *b, size_t len, struct coll_fit_state *fs)
{
	if (len < HEAD_BYTES + SUM_BYTES || memcmp(b, "EPF", 3) != 0 || b[3] != FIT_VERSION)
		return -EINVAL;
	size_t body = len - SUM_BYTES;
	if (get_u64(b + body) != checksum(b, body))
		return -EINVAL;
	size_t n = get_u16(b + 4) | get_u16(b + 6) << 16;
	if (n > MAX_ENTRIES)
		return -EINVAL;
	fs->updated_at = (int64_t)get_u64(b + 8);
	fs->interval = (int64_t)get_u64(b + 16);
	size_t at = HEAD_BYTES;
	for (size_t i = 0; i < n; i++) {
		if (body - at < ENTRY_BYTES)
			return -EINVAL;
		const unsigned char *h = b + at;
		size_t name_len = get_u16(h + 2), k = get_u16(h + 4);
		at += ENTRY_BYTES;
		if (h[1] || h[6] || h[7] || name_len == 0 || name_len > MAX_NAME ||
		    !count_ok(h[0], k) || body - at < name_len || (body - at - name_len) / 8 < k ||
		    memchr(b + at, '\0', name_len))
			return -EINVAL;
		double v[COLL_FIT_SPIKE_BUCKETS * COLL_FIT_S_COUNT];
		for (size_t j = 0; j < k; j++) {
			uint64_t bits = get_u64(b + at + name_len + 8 * j);
			memcpy(&v[j], &bits, sizeof(bits));
		}
		int r = append(fs, (const char *)b + at, name_len, (enum coll_fit_type)h[0],
			       (int64_t)get_u64(h + 8), v, k);
		if (r < 0)
			return r;
		at += name_len + 8 * k;
	}
	return at == body ? 0 : -EINVAL;
}

int coll_fit_state_decode(const void *p, size_t len, struct coll_fit_state *fs)
{
	coll_fit_state_free(fs);
	int r = decode(p, len, fs);
	if (r < 0)
		coll_fit_state_free(fs);
	return r;
}

/* ---- the row in the store ------------------------------------------------ */

int coll_fit_state_load(struct coll_store *s, const char *agent, struct coll_fit_state *fs)
{
	struct coll_db_res res;
	/* PostgreSQL: read with the round's state (one statement a round) */
	int r = coll_store_round_fits(s, agent, &res);
	if (r == -ENOTSUP)
		r = COLL_Q(
			s,
			"SELECT fitted_at, sampled_at, state FROM forecast_fits WHERE agent_id = ?",
			&res, agent);
	if (r < 0)
		return r;
	coll_fit_state_free(fs);
	if (res.rows && coll_db_val(&res, 0, 2)) {
		r = coll_fit_state_decode(coll_db_val(&res, 0, 2), coll_db_len(&res, 0, 2), fs);
		fs->fitted_at = coll_s2i(coll_db_val(&res, 0, 0));
		fs->sampled_at = coll_s2i(coll_db_val(&res, 0, 1));
		/* a row that cannot be read (-EINVAL) means a refit */
		fs->row = r == 0 && fs->interval > 0;
		r = r == -ENOMEM ? r : 0;
	}
	coll_db_res_free(&res);
	return r;
}

/* Runs sql with params, params[state_at] being fs encoded (bound as
 * binary); a state too large for a row (entries, a name) deletes the
 * agent's (params[agent_at]) row instead. */
static int write_row(struct coll_store *s, const char *sql, const char *const *params,
		     size_t n_params, size_t state_at, size_t agent_at,
		     const struct coll_fit_state *fs)
{
	unsigned char *b;
	size_t len, lens[4];
	const char *p[4];
	int r = coll_fit_state_encode(fs, &b, &len);
	if (r == -E2BIG) {
		/* more or longer series than a row holds: no row, so that
		 * every report of the host refits (as before the state) */
		const char *agent[] = {params[agent_at]};
		r = coll_db_query(s->db, "DELETE FROM forecast_fits WHERE agent_id = ?", agent, 1,
				  NULL);
		if (r < 0)
			snprintf(s->err, sizeof(s->err), "%s", coll_db_error(s->db));
		return r;
	}
	if (r < 0)
		return r;
	for (size_t i = 0; i < n_params; i++) {
		p[i] = i == state_at ? (const char *)b : params[i];
		lens[i] = i == state_at ? len : COLL_DB_TEXT;
	}
	r = coll_db_query_bin(s->db, sql, p, lens, n_params, NULL);
	if (r < 0)
		snprintf(s->err, sizeof(s->err), "%s", coll_db_error(s->db));
	free(b);
	return r;
}

int coll_fit_state_store(struct coll_store *s, const struct coll_ingest *it,
			 struct coll_fit_state *fs)
{
	int64_t sampled = 0;
	for (size_t i = 0; i < fs->n; i++)
		if (fs->e[i].last_t > sampled)
			sampled = fs->e[i].last_t;
	fs->updated_at = it->received_at;
	struct coll_num at = coll_i2s(it->received_at), sa = coll_i2s(sampled);
	const char *params[] = {it->agent.id, at.s, sa.s, NULL};
	return write_row(
		s,
		"INSERT INTO forecast_fits (agent_id, fitted_at, sampled_at, state) VALUES"
		" (?, ?, ?, ?) ON CONFLICT (agent_id) DO UPDATE SET fitted_at ="
		" excluded.fitted_at, sampled_at = excluded.sampled_at, state = excluded.state",
		params, EP_ARRAY_SIZE(params), 3, 0, fs);
}

int coll_fit_state_save(struct coll_store *s, const char *agent, const struct coll_fit_state *fs,
			int64_t sampled_at)
{
	struct coll_num sa = coll_i2s(sampled_at);
	const char *params[] = {sa.s, NULL, agent};
	return write_row(s, "UPDATE forecast_fits SET sampled_at = ?, state = ? WHERE agent_id = ?",
			 params, EP_ARRAY_SIZE(params), 1, 2, fs);
}

/* ---- the linear entries -------------------------------------------------- */

void coll_fit_linear_nums(const struct coll_forecast *fc, double *x)
{
	x[COLL_FIT_L_LIMIT] = fc->limit;
	x[COLL_FIT_L_LAST_V] = fc->last_value;
	x[COLL_FIT_L_FROM] = (double)fc->fit_from;
	x[COLL_FIT_L_STEP] = fc->step_detected;
	x[COLL_FIT_L_DROP] = fc->drop_threshold;
	x[COLL_FIT_L_T0] = (double)fc->sums.t0;
	x[COLL_FIT_L_V0] = fc->sums.v0;
	x[COLL_FIT_L_SN] = fc->sums.n;
	x[COLL_FIT_L_ST] = fc->sums.st;
	x[COLL_FIT_L_SV] = fc->sums.sv;
	x[COLL_FIT_L_STT] = fc->sums.stt;
	x[COLL_FIT_L_STV] = fc->sums.stv;
	x[COLL_FIT_L_SVV] = fc->sums.svv;
}

/* A stored time as an integer: 0 when it is not one (a NAN cast is
 * undefined behaviour). */
static int64_t num_t(double v)
{
	return isfinite(v) && fabs(v) < 9e18 ? (int64_t)v : 0;
}

int coll_fit_linear_from(const struct coll_fit_state *fs, const struct coll_fit_entry *e,
			 struct coll_forecast *ret)
{
	if (e->type != COLL_FIT_LINEAR || e->n != COLL_FIT_L_COUNT)
		return 1;
	const double *x = coll_fit_nums(fs, e);
	*ret = (struct coll_forecast){
		.status = COLL_FC_INSUFFICIENT,
		.days = NAN,
		.days_low = NAN,
		.days_high = NAN,
		.limit = x[COLL_FIT_L_LIMIT],
		.last_value = x[COLL_FIT_L_LAST_V],
		.fit_from = num_t(x[COLL_FIT_L_FROM]),
		.step_detected = x[COLL_FIT_L_STEP] > 0,
		.drop_threshold = x[COLL_FIT_L_DROP],
		.sums = {.t0 = num_t(x[COLL_FIT_L_T0]),
			 .v0 = x[COLL_FIT_L_V0],
			 .n = x[COLL_FIT_L_SN],
			 .st = x[COLL_FIT_L_ST],
			 .sv = x[COLL_FIT_L_SV],
			 .stt = x[COLL_FIT_L_STT],
			 .stv = x[COLL_FIT_L_STV],
			 .svv = x[COLL_FIT_L_SVV]},
	};
	return !isfinite(ret->limit) || !(ret->sums.n >= 0);
}

/* ---- the update ---------------------------------------------------------- */

/* The oldest newest point of the linear sums; INT64_MAX: none. */
static int64_t sums_since(const struct coll_fit_state *fs)
{
	int64_t since = INT64_MAX;
	for (size_t i = 0; i < fs->n; i++) {
		if (fs->e[i].type != COLL_FIT_LINEAR)
			continue;
		int64_t t = num_t(coll_fit_nums(fs, &fs->e[i])[COLL_FIT_L_SUM_T]);
		if (t < since)
			since = t;
	}
	return since;
}

bool coll_fit_state_behind(const struct coll_fit_state *fs)
{
	/* every sample stored between refits moves sampled_at (history.c);
	 * a refit's are at most its time, which its sums end at */
	int64_t since = sums_since(fs);
	return since != INT64_MAX && fs->sampled_at > since;
}

struct update {
	struct coll_fit_state *fs;
	struct coll_fit_entry *last; /* the entry of the previous row */
	bool changed;
};

/* One stored sample newer than its series' sums: added to them. */
static int update_row(void *ctx, const struct coll_db_row *row)
{
	struct update *u = ctx;
	const char *series = coll_db_row_text(row, 0);
	if (!series)
		return 0;
	struct coll_fit_entry *e = u->last;
	if (!e || strcmp(u->fs->names + e->name, series) != 0)
		e = u->last = coll_fit_state_get(u->fs, series, COLL_FIT_LINEAR);
	int64_t t = coll_db_row_int(row, 1);
	double v = coll_db_row_double(row, 2), *x;
	struct coll_forecast fit;
	if (!e || coll_fit_linear_from(u->fs, e, &fit) != 0)
		return 0;
	x = coll_fit_nums(u->fs, e);
	if (t <= num_t(x[COLL_FIT_L_SUM_T]) || !isfinite(v))
		return 0;
	if (v < fit.last_value - fit.drop_threshold) {
		/* a change point: the fit starts again from this sample */
		fit.sums = (struct coll_fit_sums){.t0 = t, .v0 = v};
		fit.fit_from = t;
		fit.step_detected = true;
	}
	coll_fit_sums_add(&fit.sums, t, v);
	fit.last_value = v;
	coll_fit_linear_nums(&fit, x);
	x[COLL_FIT_L_SUM_T] = (double)t;
	if (t > e->last_t)
		e->last_t = t;
	u->changed = true;
	return 0;
}

int coll_fit_state_update(struct coll_store *s, const struct coll_ingest *it,
			  struct coll_fit_state *fs, bool *ret_changed)
{
	struct update u = {.fs = fs};
	int64_t since = sums_since(fs);
	if (coll_fit_state_behind(fs)) {
		int r = coll_store_samples_since(s, it->agent.id, since, update_row, &u);
		if (r < 0)
			return r;
	}
	fs->updated_at = it->received_at;
	*ret_changed = u.changed;
	return 0;
}
