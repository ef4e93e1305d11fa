/* Chart layout (chart.h): scales, grid, series, threshold line and labels
 * as primitives in a w x h box. Pure. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "collector/report/chart.h"
#include "erpulse/util.h"

#define LEFT   38.0
#define RIGHT  10.0
#define TOP    16.0
#define BOTTOM 18.0
#define TICKS  4
#define FONT   7.0

uint32_t coll_color_rgb(enum coll_color c)
{
	static const uint32_t rgb[COLL_COLOR_COUNT] = {
		[COLL_COLOR_TEXT] = 0x1f2328,  [COLL_COLOR_MUTED] = 0x656d76,
		[COLL_COLOR_GRID] = 0xd8dee4,  [COLL_COLOR_THRESHOLD] = 0xcf222e,
		[COLL_COLOR_GREEN] = 0x2da44e, [COLL_COLOR_YELLOW] = 0xd4a72c,
		[COLL_COLOR_RED] = 0xcf222e,   [COLL_COLOR_GREY] = 0x8c959f,
		[COLL_COLOR_S0] = 0x0969da,    [COLL_COLOR_S1] = 0x8250df,
		[COLL_COLOR_S2] = 0xbc4c00,    [COLL_COLOR_S3] = 0x1a7f37,
	};
	return (unsigned)c < COLL_COLOR_COUNT ? rgb[c] : 0;
}

void coll_utf8_cut(char *s)
{
	size_t n = strlen(s), i = n, cont = 0;
	while (i > 0 && ((unsigned char)s[i - 1] & 0xc0) == 0x80 && cont < 3) {
		i--;
		cont++;
	}
	if (i == 0)
		return;
	unsigned char lead = (unsigned char)s[i - 1];
	size_t need = lead >= 0xf0 ? 3 : lead >= 0xe0 ? 2 : lead >= 0xc0 ? 1 : 0;
	if (lead < 0x80 && cont > 0)
		s[i] = '\0'; /* stray continuation bytes */
	else if (lead >= 0xc0 && cont < need)
		s[i - 1] = '\0';
}

static struct coll_prim *add(struct coll_chart_layout *l, enum coll_prim_kind k,
			     enum coll_color color)
{
	if (l->n >= COLL_CHART_MAX_PRIMS)
		return NULL;
	struct coll_prim *p = &l->p[l->n++];
	memset(p, 0, sizeof(*p));
	p->kind = k;
	p->color = color;
	p->width = 1;
	return p;
}

static void line(struct coll_chart_layout *l, enum coll_color c, double x0, double y0, double x1,
		 double y1, double width, bool dashed)
{
	struct coll_prim *p = add(l, COLL_PRIM_LINE, c);
	if (!p)
		return;
	p->x0 = x0;
	p->y0 = y0;
	p->x1 = x1;
	p->y1 = y1;
	p->width = width;
	p->dashed = dashed;
}

static void text(struct coll_chart_layout *l, enum coll_color c, double x, double y,
		 enum coll_anchor a, const char *s)
{
	struct coll_prim *p = add(l, COLL_PRIM_TEXT, c);
	if (!p)
		return;
	p->x0 = x;
	p->y0 = y;
	p->anchor = a;
	p->size = FONT;
	snprintf(p->text, sizeof(p->text), "%s", s);
	coll_utf8_cut(p->text);
}

static void rect(struct coll_chart_layout *l, enum coll_color c, double x, double y, double w,
		 double h)
{
	struct coll_prim *p = add(l, COLL_PRIM_RECT, c);
	if (!p)
		return;
	p->x0 = x;
	p->y0 = y;
	p->x1 = w;
	p->y1 = h;
}

/* 1, 2 or 5 times a power of ten, >= v. */
static double nice_ceil(double v)
{
	if (!(v > 0))
		return 1;
	double e = pow(10, floor(log10(v)));
	for (int k = 0; k < 3; k++) {
		double f = (double[]){1, 2, 5}[k] * e;
		if (f >= v)
			return f;
	}
	return 10 * e;
}

static void y_range(const struct coll_chart *c, double *lo, double *hi)
{
	double max = isfinite(c->threshold) ? c->threshold : 0;
	for (size_t i = 0; i < c->n_series; i++)
		for (size_t k = 0; k < c->s[i].n; k++)
			if (isfinite(c->s[i].y[k]) && c->s[i].y[k] > max)
				max = c->s[i].y[k];
	*lo = isfinite(c->y_min) ? c->y_min : 0;
	/* a nice step per grid line, so that every tick is a round number */
	*hi = isfinite(c->y_max) ? c->y_max : *lo + TICKS * nice_ceil((max - *lo) * 1.1 / TICKS);
	if (*hi <= *lo)
		*hi = *lo + 1;
}

static void x_range(const struct coll_chart *c, double *lo, double *hi)
{
	if (c->x_max > c->x_min) {
		*lo = c->x_min;
		*hi = c->x_max;
		return;
	}
	*lo = INFINITY;
	*hi = -INFINITY;
	for (size_t i = 0; i < c->n_series; i++)
		for (size_t k = 0; k < c->s[i].n; k++) {
			*lo = fmin(*lo, c->s[i].x[k]);
			*hi = fmax(*hi, c->s[i].x[k]);
		}
	if (!isfinite(*lo)) {
		*lo = 0;
		*hi = 1;
	}
}

static void grid(const struct coll_chart *c, struct coll_chart_layout *l, double lo, double hi)
{
	double pw = l->w - LEFT - RIGHT, ph = l->h - TOP - BOTTOM;
	for (int t = 0; t <= TICKS; t++) {
		double v = lo + (hi - lo) * t / TICKS;
		double y = TOP + ph - ph * t / TICKS;
		char s[32];
		double step = (hi - lo) / TICKS;
		snprintf(s, sizeof(s), step == floor(step) ? "%.0f%s" : "%.1f%s", v, c->unit);
		line(l, COLL_COLOR_GRID, LEFT, y, LEFT + pw, y, 0.5, false);
		text(l, COLL_COLOR_MUTED, LEFT - 4, y + FONT / 3, COLL_ANCHOR_END, s);
	}
}

static void legend(const struct coll_chart *c, struct coll_chart_layout *l)
{
	double x = LEFT;
	for (size_t i = 0; c->kind == COLL_CHART_LINE && i < c->n_series; i++) {
		if (!c->s[i].label[0])
			continue;
		rect(l, (enum coll_color)(COLL_COLOR_S0 + i), x, 4, 8, 5);
		text(l, COLL_COLOR_TEXT, x + 11, 9.5, COLL_ANCHOR_START, c->s[i].label);
		x += 14 + (double)strlen(c->s[i].label) * FONT * 0.5;
	}
}

static void threshold(const struct coll_chart *c, struct coll_chart_layout *l, double lo, double hi)
{
	if (!isfinite(c->threshold) || c->threshold < lo || c->threshold > hi)
		return;
	double pw = l->w - LEFT - RIGHT, ph = l->h - TOP - BOTTOM;
	double y = TOP + ph - ph * (c->threshold - lo) / (hi - lo);
	line(l, COLL_COLOR_THRESHOLD, LEFT, y, LEFT + pw, y, 0.8, true);
	if (c->threshold_label[0])
		text(l, COLL_COLOR_THRESHOLD, LEFT + pw, y - 2, COLL_ANCHOR_END,
		     c->threshold_label);
}

static void lines(const struct coll_chart *c, struct coll_chart_layout *l, double lo, double hi)
{
	double pw = l->w - LEFT - RIGHT, ph = l->h - TOP - BOTTOM, x0, x1;
	x_range(c, &x0, &x1);
	for (size_t i = 0; i < c->n_series; i++) {
		const struct coll_chart_series *s = &c->s[i];
		enum coll_color col = (enum coll_color)(COLL_COLOR_S0 + i % 4);
		struct coll_prim *p = add(l, s->n == 1 ? COLL_PRIM_DOT : COLL_PRIM_POLY, col);
		if (!p)
			return;
		p->width = 1.4;
		for (size_t k = 0; k < s->n && p->n < COLL_CHART_MAX_POINTS; k++) {
			if (!isfinite(s->y[k]))
				continue;
			double fx = x1 > x0 ? (s->x[k] - x0) / (x1 - x0) : 0.5;
			double fy = (fmin(fmax(s->y[k], lo), hi) - lo) / (hi - lo);
			p->px[p->n] = LEFT + pw * fx;
			p->py[p->n] = TOP + ph - ph * fy;
			p->n++;
		}
		if (p->n) {
			p->x0 = p->px[0];
			p->y0 = p->py[0];
		}
	}
	double yb = l->h - 5;
	text(l, COLL_COLOR_MUTED, LEFT, yb, COLL_ANCHOR_START, c->x_label[0]);
	text(l, COLL_COLOR_MUTED, LEFT + pw, yb, COLL_ANCHOR_END, c->x_label[1]);
}

static void bars(const struct coll_chart *c, struct coll_chart_layout *l, double lo, double hi)
{
	double pw = l->w - LEFT - RIGHT, ph = l->h - TOP - BOTTOM;
	const struct coll_chart_series *s = &c->s[0];
	if (c->n_series == 0 || s->n == 0)
		return;
	double slot = pw / (double)s->n;
	for (size_t k = 0; k < s->n; k++) {
		double cx = LEFT + slot * ((double)k + 0.5);
		text(l, COLL_COLOR_MUTED, cx, l->h - 5, COLL_ANCHOR_MIDDLE, c->bar_label[k]);
		if (!isfinite(s->y[k]))
			continue;
		double fy = (fmin(fmax(s->y[k], lo), hi) - lo) / (hi - lo);
		double bh = ph * fy, bw = slot * 0.55;
		rect(l, s->color[k], cx - bw / 2, TOP + ph - bh, bw, bh);
		char v[16];
		snprintf(v, sizeof(v), "%.0f", s->y[k]);
		text(l, COLL_COLOR_TEXT, cx, TOP + ph - bh - 2, COLL_ANCHOR_MIDDLE, v);
	}
}

void coll_chart_layout(const struct coll_chart *c, double w, double h,
		       struct coll_chart_layout *ret)
{
	double lo, hi;
	ret->w = w;
	ret->h = h;
	ret->n = 0;
	y_range(c, &lo, &hi);
	grid(c, ret, lo, hi);
	legend(c, ret);
	if (c->kind == COLL_CHART_BARS)
		bars(c, ret, lo, hi);
	else
		lines(c, ret, lo, hi);
	threshold(c, ret, lo, hi);
	line(ret, COLL_COLOR_MUTED, LEFT, h - BOTTOM, w - RIGHT, h - BOTTOM, 0.6, false);
}
