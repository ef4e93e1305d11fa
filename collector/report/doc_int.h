/* Shared by doc.c (formatting, blocks, the first sections) and
 * doc_state.c (the state sections and the recommendations) only. */
#ifndef COLL_REPORT_DOC_INT_H
#define COLL_REPORT_DOC_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/report/doc.h"

#define DAY      86400
#define TEXT_MAX 2048

/* One document being built: a failed allocation sets err, and every later
 * block call does nothing. */
struct coll_dx {
	struct coll_doc *d;
	const struct coll_report_model *m;
	const char *lang;
	int err;
};

/* key's text in the document's language. */
const char *coll_dx_text(const struct coll_dx *c, const char *key);
/* key filled with vars (name, value, ..., NULL) into buf; buf. */
const char *coll_dx_fill(const struct coll_dx *c, char *buf, size_t size, const char *key,
			 const char *const *vars);
#define COLL_DX_R(c, buf, size, key, ...)                                                          \
	coll_dx_fill(c, buf, size, key, (const char *const[]){__VA_ARGS__})
/* Numbers, shares (0..1), dates and durations as the reader writes them; buf. */
const char *coll_dx_num(char *buf, size_t size, double v, int decimals);
const char *coll_dx_pct(char *buf, size_t size, double share);
const char *coll_dx_date(const struct coll_dx *c, char *buf, size_t size, int64_t t);
const char *coll_dx_duration(const struct coll_dx *c, char *buf, size_t size, int64_t s);
/* A finding kind's title. */
const char *coll_dx_title(const struct coll_dx *c, const char *kind);

char *coll_dx_dup(struct coll_dx *c, const char *s);
struct coll_block *coll_dx_block(struct coll_dx *c, enum coll_block_kind k);
void coll_dx_heading(struct coll_dx *c, const char *key);
void coll_dx_para(struct coll_dx *c, const char *s);
void coll_dx_nodata(struct coll_dx *c);
/* A section's heading, and "no data this month" when it has none; has. */
bool coll_dx_section(struct coll_dx *c, const char *key, bool has);
/* A table of rows data rows and cols columns, header from keys ("" none),
 * relative widths w. */
struct coll_block *coll_dx_table(struct coll_dx *c, size_t rows, size_t cols,
				 const char *const *keys, const double *w);
void coll_dx_cell(struct coll_dx *c, struct coll_block *b, size_t row, size_t col, const char *s);
struct coll_chart *coll_dx_chart(struct coll_dx *c);
/* A month's series as the chart's next line, the whole month on the x axis. */
void coll_dx_series(struct coll_dx *c, struct coll_chart *ch, const struct coll_report_series *s,
		    const char *label);
enum coll_color coll_dx_rating_color(enum coll_rating r);
enum coll_color coll_dx_score_color(double score);

/* Capacity, database, patches, logs, month over month, recommendations. */
void coll_dx_state_sections(struct coll_dx *c);

#endif
