/* The report's charts (docs/report.md): one small chart model, laid out
 * once into drawing primitives in a box of w x h points; the PDF renderer
 * draws them with cairo, the HTML renderer writes them as inline SVG, so
 * the two never differ. */
#ifndef COLL_REPORT_CHART_H
#define COLL_REPORT_CHART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define COLL_CHART_MAX_SERIES 4
#define COLL_CHART_MAX_POINTS 64
#define COLL_CHART_MAX_PRIMS  160
#define COLL_CHART_LABEL      48

enum coll_chart_kind {
	COLL_CHART_LINE, /* x: epoch seconds */
	COLL_CHART_BARS, /* one bar per point, labelled */
};

/* Colours by meaning; each renderer maps them to the same RGB. */
enum coll_color {
	COLL_COLOR_TEXT,
	COLL_COLOR_MUTED,
	COLL_COLOR_GRID,
	COLL_COLOR_THRESHOLD,
	COLL_COLOR_GREEN,
	COLL_COLOR_YELLOW,
	COLL_COLOR_RED,
	COLL_COLOR_GREY,
	COLL_COLOR_S0, /* series 0..3 */
	COLL_COLOR_S1,
	COLL_COLOR_S2,
	COLL_COLOR_S3,
	COLL_COLOR_COUNT,
};
/* 0xRRGGBB of c. */
uint32_t coll_color_rgb(enum coll_color c);

struct coll_chart_series {
	char label[COLL_CHART_LABEL];
	size_t n;
	double x[COLL_CHART_MAX_POINTS], y[COLL_CHART_MAX_POINTS];
	enum coll_color color[COLL_CHART_MAX_POINTS]; /* bars: each bar's colour */
};

struct coll_chart {
	enum coll_chart_kind kind;
	size_t n_series;
	struct coll_chart_series s[COLL_CHART_MAX_SERIES];
	char bar_label[COLL_CHART_MAX_POINTS][COLL_CHART_LABEL]; /* bars: under each bar */
	char x_label[2][COLL_CHART_LABEL];                       /* line: the first and last date */
	double threshold;                                        /* NAN = none */
	char threshold_label[COLL_CHART_LABEL];
	double y_min, y_max; /* y_max NAN = from the data */
	double x_min, x_max; /* line: the x axis' span; x_max <= x_min = from the data */
	char unit[16];       /* after the y tick values ("%") */
};

enum coll_prim_kind {
	COLL_PRIM_LINE, /* x0,y0 -> x1,y1 */
	COLL_PRIM_POLY, /* points */
	COLL_PRIM_RECT, /* x0,y0 w=x1 h=y1, filled */
	COLL_PRIM_TEXT, /* at x0,y0 (baseline), anchor */
	COLL_PRIM_DOT,  /* a point of a single-point series: circle at x0,y0 */
};

enum coll_anchor { COLL_ANCHOR_START, COLL_ANCHOR_MIDDLE, COLL_ANCHOR_END };

struct coll_prim {
	enum coll_prim_kind kind;
	enum coll_color color;
	double x0, y0, x1, y1;
	double width; /* line width */
	bool dashed;
	double size; /* text size */
	enum coll_anchor anchor;
	size_t n; /* poly */
	double px[COLL_CHART_MAX_POINTS], py[COLL_CHART_MAX_POINTS];
	char text[COLL_CHART_LABEL];
};

struct coll_chart_layout {
	double w, h;
	size_t n;
	struct coll_prim p[COLL_CHART_MAX_PRIMS];
};

/* Cuts s (NUL-terminated) before a trailing incomplete UTF-8 sequence, as
 * a fixed-size copy (snprintf) leaves one: pango and the HTML get whole
 * characters only. */
void coll_utf8_cut(char *s);

/* Lays c out in a box of w x h (y down). Fills *ret (no allocation). */
void coll_chart_layout(const struct coll_chart *c, double w, double h,
		       struct coll_chart_layout *ret);

#endif
