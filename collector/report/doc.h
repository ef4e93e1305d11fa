/* The report as a document (docs/report.md): the model's figures put into
 * words of one language (the catalogs' report.* keys), as a list of blocks
 * both renderers draw the same way. */
#ifndef COLL_REPORT_DOC_H
#define COLL_REPORT_DOC_H

#include <stddef.h>

#include "collector/report/chart.h"
#include "collector/report/model.h"

#define COLL_DOC_MAX_COLS 8

enum coll_block_kind {
	COLL_BLOCK_HEADING, /* a section's title */
	COLL_BLOCK_TEXT,    /* a paragraph */
	COLL_BLOCK_NODATA,  /* "no data this month": a paragraph, muted */
	COLL_BLOCK_SCORE,   /* the overall score: text = "72", sub = band, color */
	COLL_BLOCK_TABLE,   /* cells: row 0 is the header */
	COLL_BLOCK_CHART,
	COLL_BLOCK_BULLETS, /* cells: one column, one item per row */
};

struct coll_cell {
	char *text;
	int color; /* enum coll_color of a rating swatch, -1 none */
};

struct coll_block {
	enum coll_block_kind kind;
	char *text, *sub;
	int color;
	size_t cols, rows;                /* table: rows including the header */
	double weight[COLL_DOC_MAX_COLS]; /* table: relative column widths */
	struct coll_cell *cells;
	struct coll_chart *chart;
};

struct coll_doc {
	char lang[8];
	char *title;     /* "Monthly health report" */
	char *customer;  /* the customer's name */
	char *period;    /* "November 2026" */
	char *generated; /* "Generated 1 Dec 2026 02:00 (UTC+08:00)" */
	char *page_fmt;  /* "Page {n} of {m}" */
	size_t n, cap;
	struct coll_block *v;
};

/* m in lang as *ret (coll_doc_free). 0 or -ENOMEM. */
int coll_doc_build(const struct coll_report_model *m, const char *lang, struct coll_doc *ret);
void coll_doc_free(struct coll_doc *d);

/* "Page 2 of 5" in the document's language; 0 or -ENOSPC. */
int coll_doc_page(const struct coll_doc *d, int n, int of, char *buf, size_t size);

#endif
