/* Internal to collector/analysis/: the forecasts' fit state of one host
 * (table forecast_fits, migration 14; docs/forecasts.md "Refit and the
 * cached path"): what a report between refits needs of each series to be
 * judged without reading the history, stored as a compact versioned binary
 * row that is checked (bounds, counts, version, checksum) before use. */
#ifndef COLL_ANALYSIS_FITSTATE_H
#define COLL_ANALYSIS_FITSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/analysis/analysis.h"
#include "collector/analysis/forecast.h"

enum coll_fit_type {
	COLL_FIT_LINEAR = 'f',   /* a linear forecast: COLL_FIT_L_COUNT numbers */
	COLL_FIT_SPIKE = 's',    /* error-rate baselines: 1 .. COLL_FIT_SPIKE_BUCKETS buckets */
	COLL_FIT_SECURITY = 'u', /* pending security updates: COLL_FIT_U_COUNT numbers */
};

/* A linear entry's numbers: the fit's limit, its sums' newest point's
 * value, fit_from, step, drop threshold, the least-squares sums and the
 * time of their newest point (the rest of a forecast follows from them). */
enum {
	COLL_FIT_L_LIMIT,
	COLL_FIT_L_LAST_V,
	COLL_FIT_L_FROM,
	COLL_FIT_L_STEP,
	COLL_FIT_L_DROP,
	COLL_FIT_L_T0,
	COLL_FIT_L_V0,
	COLL_FIT_L_SN,
	COLL_FIT_L_ST,
	COLL_FIT_L_SV,
	COLL_FIT_L_STT,
	COLL_FIT_L_STV,
	COLL_FIT_L_SVV,
	COLL_FIT_L_SUM_T,
	COLL_FIT_L_COUNT
};
/* A spike entry: per hour bucket from the refit's on, these numbers. */
enum {
	COLL_FIT_S_HOUR,
	COLL_FIT_S_STATUS,
	COLL_FIT_S_METHOD,
	COLL_FIT_S_BASE,
	COLL_FIT_S_SPREAD,
	COLL_FIT_S_N,
	COLL_FIT_S_COUNT
};
#define COLL_FIT_SPIKE_BUCKETS 25
/* A security entry: the pending run's start, the last count. */
enum { COLL_FIT_U_SINCE, COLL_FIT_U_LAST_V, COLL_FIT_U_COUNT };

/* One series' entry: its name and numbers live in the state's buffers. */
struct coll_fit_entry {
	size_t name, name_len; /* offset in names, length (no NUL inside) */
	size_t num, n;         /* offset in nums, count */
	enum coll_fit_type type;
	int64_t last_t; /* the series' newest stored sample, 0 = none */
};

struct coll_fit_state {
	struct coll_fit_entry *e;
	size_t n, cap;
	char *names; /* each name followed by a NUL */
	size_t names_len, names_cap;
	double *nums;
	size_t nums_len, nums_cap;
	int64_t fitted_at;  /* the last refit (column) */
	int64_t sampled_at; /* the last samples stored between refits (column) */
	int64_t updated_at; /* the last update of the linear sums */
	int64_t interval;   /* refit after this long (s) */
	bool row;           /* the host has a usable row (coll_fit_state_load) */
};

/* Frees what fs holds and zeroes it; a zeroed state is fine. */
void coll_fit_state_free(struct coll_fit_state *fs);

/* Sets series' entry (replacing one of the same name): type, last_t and
 * the n numbers v (copied). 0 or -ENOMEM. */
int coll_fit_state_put(struct coll_fit_state *fs, const char *series, enum coll_fit_type type,
		       int64_t last_t, const double *v, size_t n);
/* series' entry when it has type t, else NULL. */
struct coll_fit_entry *coll_fit_state_get(const struct coll_fit_state *fs, const char *series,
					  enum coll_fit_type t);
/* An entry's numbers (e->n of them). */
static inline double *coll_fit_nums(const struct coll_fit_state *fs, const struct coll_fit_entry *e)
{
	return fs->nums + e->num;
}

/* The binary row of fs (updated_at, interval, the entries; a checksum
 * last) into *ret (malloc'd, caller frees) of *ret_len bytes. 0 or -ENOMEM. */
int coll_fit_state_encode(const struct coll_fit_state *fs, unsigned char **ret, size_t *ret_len);
/* Reads a row made by coll_fit_state_encode into *fs (freed first): 0,
 * -EINVAL when it is not one of this version or not whole (fs then empty),
 * -ENOMEM. */
int coll_fit_state_decode(const void *p, size_t len, struct coll_fit_state *fs);
/* Writes the checksum of row's first len - 8 bytes into its last 8 (what
 * coll_fit_state_encode ends a row with; tests and the fuzz target seal the
 * rows they make with it). len >= 8. */
void coll_fit_state_seal(unsigned char *row, size_t len);

/* The host's row into *fs (fs->row false when it has none or it cannot be
 * used: the caller refits). 0 or -errno (s->err set). */
int coll_fit_state_load(struct coll_store *s, const char *agent, struct coll_fit_state *fs);
/* A refit's state, stored as fitted at it->received_at with the newest
 * last_t as sampled_at. 0 or -errno. */
int coll_fit_state_store(struct coll_store *s, const struct coll_ingest *it,
			 struct coll_fit_state *fs);
/* Writes fs (updated between refits) and sampled_at back. 0 or -errno. */
int coll_fit_state_save(struct coll_store *s, const char *agent, const struct coll_fit_state *fs,
			int64_t sampled_at);

/* Whether samples may have been stored since the newest point of some
 * linear entry's sums (else an update has nothing to add). */
bool coll_fit_state_behind(const struct coll_fit_state *fs);
/* The update of the linear fits at it->received_at: the samples stored
 * since each series' sums were made are added to them (a drop of the
 * threshold starts them again: a change point); reads those rows only.
 * *ret_changed: some entry took a sample. 0 or -errno (s->err set). */
int coll_fit_state_update(struct coll_store *s, const struct coll_ingest *it,
			  struct coll_fit_state *fs, bool *ret_changed);

/* A linear forecast's entry numbers (COLL_FIT_L_COUNT; x[COLL_FIT_L_SUM_T]
 * is the caller's), and back: 0, or 1 when e cannot be one. */
void coll_fit_linear_nums(const struct coll_forecast *fc, double *x);
int coll_fit_linear_from(const struct coll_fit_state *fs, const struct coll_fit_entry *e,
			 struct coll_forecast *ret);

#endif
