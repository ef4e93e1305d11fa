/* The PDF renderer (render.h): cairo's PDF surface, text through pango
 * (Liberation Sans and Noto Sans CJK SC; cairo embeds subsets of the fonts
 * it uses). A4 portrait; every page has a header (customer,
 * month) and a footer ("page N of M"): M is known after a first layout
 * pass into a recording surface. */
#include <cairo-pdf.h>
#include <cairo.h>
#include <errno.h>
#include <math.h>
#include <pango/pangocairo.h>
#include <stdio.h>
#include <string.h>

#include "collector/report/render.h"
#include "erpulse/util.h"

#define PAGE_W    595.276
#define PAGE_H    841.89
#define MARGIN_X  46.0
#define TOP       64.0
#define BOTTOM    (PAGE_H - 56.0)
#define CONTENT_W (PAGE_W - 2 * MARGIN_X)
#define CHART_H   176.0
#define PAD       3.5
/* Latin from Liberation Sans, Chinese from Noto Sans CJK SC: cairo 1.16
 * subsets Noto CJK's CFF well for Chinese alone, but once Latin glyphs of
 * the same face join (their subroutines add up past the CFF bias limit)
 * it embeds every subroutine: 1 MB instead of about 130 kB per report. */
#define FAMILY "Liberation Sans, Noto Sans CJK SC"

struct pdf {
	const struct coll_doc *d;
	cairo_t *cr;
	double y;
	int page, pages;
};

/* color < 0: white (text on a coloured box) */
static void rgb(cairo_t *cr, int color)
{
	if (color < 0) {
		cairo_set_source_rgb(cr, 1, 1, 1);
		return;
	}
	uint32_t c = coll_color_rgb((enum coll_color)color);
	cairo_set_source_rgb(cr, ((c >> 16) & 0xff) / 255.0, ((c >> 8) & 0xff) / 255.0,
			     (c & 0xff) / 255.0);
}

/* The pass's one pango context hangs on its cairo context under this key
 * (a context per layout would cost a font map lookup each time). */
static const cairo_user_data_key_t pango_key;

/* A layout of text at size (bold), wrapped at width (<= 0: no wrap). */
static PangoLayout *layout(cairo_t *cr, const char *text, double size, bool bold, double width)
{
	PangoLayout *l = pango_layout_new(cairo_get_user_data(cr, &pango_key));
	PangoFontDescription *f = pango_font_description_new();
	pango_font_description_set_family(f, FAMILY);
	pango_font_description_set_absolute_size(f, size * PANGO_SCALE);
	pango_font_description_set_weight(f, bold ? PANGO_WEIGHT_BOLD : PANGO_WEIGHT_NORMAL);
	pango_layout_set_font_description(l, f);
	pango_font_description_free(f);
	if (width > 0) {
		pango_layout_set_width(l, (int)(width * PANGO_SCALE));
		pango_layout_set_wrap(l, PANGO_WRAP_WORD_CHAR);
	}
	pango_layout_set_text(l, text ? text : "", -1);
	return l;
}

static double height_of(PangoLayout *l)
{
	int w, h;
	pango_layout_get_size(l, &w, &h);
	return (double)h / PANGO_SCALE;
}

static double width_of(PangoLayout *l)
{
	int w, h;
	pango_layout_get_size(l, &w, &h);
	return (double)w / PANGO_SCALE;
}

static void draw(cairo_t *cr, PangoLayout *l, double x, double y, int color)
{
	rgb(cr, color);
	cairo_move_to(cr, x, y);
	pango_cairo_show_layout(cr, l);
}

/* Text at (x, y) top-left, anchored; returns its height. */
static double put(cairo_t *cr, const char *text, double x, double y, double size, bool bold,
		  int color, enum coll_anchor a)
{
	PangoLayout *l = layout(cr, text, size, bold, 0);
	double w = width_of(l), h = height_of(l);
	draw(cr, l,
	     a == COLL_ANCHOR_END      ? x - w
	     : a == COLL_ANCHOR_MIDDLE ? x - w / 2
				       : x,
	     y, color);
	g_object_unref(l);
	return h;
}

static void header_footer(struct pdf *p)
{
	cairo_t *cr = p->cr;
	char page[96], top[600];
	snprintf(top, sizeof(top), "%s · %s", p->d->customer, p->d->period);
	put(cr, top, MARGIN_X, 28, 8.5, true, COLL_COLOR_TEXT, COLL_ANCHOR_START);
	put(cr, p->d->title, PAGE_W - MARGIN_X, 28, 8.5, false, COLL_COLOR_MUTED, COLL_ANCHOR_END);
	rgb(cr, COLL_COLOR_S0);
	cairo_set_line_width(cr, 1.2);
	cairo_move_to(cr, MARGIN_X, 44);
	cairo_line_to(cr, PAGE_W - MARGIN_X, 44);
	cairo_stroke(cr);
	rgb(cr, COLL_COLOR_GRID);
	cairo_set_line_width(cr, 0.6);
	cairo_move_to(cr, MARGIN_X, PAGE_H - 44);
	cairo_line_to(cr, PAGE_W - MARGIN_X, PAGE_H - 44);
	cairo_stroke(cr);
	put(cr, p->d->generated, MARGIN_X, PAGE_H - 38, 7.5, false, COLL_COLOR_MUTED,
	    COLL_ANCHOR_START);
	coll_doc_page(p->d, p->page, p->pages ? p->pages : p->page, page, sizeof(page));
	put(cr, page, PAGE_W - MARGIN_X, PAGE_H - 38, 7.5, false, COLL_COLOR_MUTED,
	    COLL_ANCHOR_END);
}

static void new_page(struct pdf *p)
{
	if (p->page > 0)
		cairo_show_page(p->cr);
	p->page++;
	header_footer(p);
	p->y = TOP;
}

/* Makes room for h points (a new page when they do not fit). */
static void room(struct pdf *p, double h)
{
	if (p->y + h > BOTTOM && p->y > TOP)
		new_page(p);
}

static void title_block(struct pdf *p)
{
	p->y += put(p->cr, p->d->title, MARGIN_X, p->y, 20, true, COLL_COLOR_TEXT,
		    COLL_ANCHOR_START);
	p->y += put(p->cr, p->d->customer, MARGIN_X, p->y + 2, 13, true, COLL_COLOR_S0,
		    COLL_ANCHOR_START) +
		2;
	p->y += put(p->cr, p->d->period, MARGIN_X, p->y, 11, false, COLL_COLOR_TEXT,
		    COLL_ANCHOR_START) +
		6;
}

static void paragraph(struct pdf *p, const char *text, int color, double size, bool bold,
		      double keep)
{
	PangoLayout *l = layout(p->cr, text, size, bold, CONTENT_W);
	double h = height_of(l);
	room(p, h + keep);
	draw(p->cr, l, MARGIN_X, p->y, color);
	p->y += h + 4;
	g_object_unref(l);
}

/* keep: how much of what follows must fit below the heading */
static void heading(struct pdf *p, const char *text, double keep)
{
	p->y += 8;
	/* keep a heading with the first lines of its section */
	PangoLayout *l = layout(p->cr, text, 13, true, CONTENT_W);
	double h = height_of(l);
	room(p, h + keep);
	draw(p->cr, l, MARGIN_X, p->y, COLL_COLOR_TEXT);
	p->y += h + 2;
	rgb(p->cr, COLL_COLOR_GRID);
	cairo_set_line_width(p->cr, 0.8);
	cairo_move_to(p->cr, MARGIN_X, p->y);
	cairo_line_to(p->cr, PAGE_W - MARGIN_X, p->y);
	cairo_stroke(p->cr);
	p->y += 6;
	g_object_unref(l);
}

static void score(struct pdf *p, const struct coll_block *b)
{
	cairo_t *cr = p->cr;
	room(p, 50);
	rgb(cr, b->color);
	cairo_rectangle(cr, MARGIN_X, p->y, 74, 44);
	cairo_fill(cr);
	put(cr, b->text, MARGIN_X + 37, p->y + 6, 24, true, -1, COLL_ANCHOR_MIDDLE);
	put(cr, b->sub, MARGIN_X + 88, p->y + 12, 15, true, COLL_COLOR_TEXT, COLL_ANCHOR_START);
	p->y += 52;
}

static void chart(struct pdf *p, const struct coll_chart *c)
{
	cairo_t *cr = p->cr;
	struct coll_chart_layout *l = malloc(sizeof(*l));
	if (!l)
		return;
	double w = CONTENT_W;
	coll_chart_layout(c, w, CHART_H, l);
	room(p, CHART_H + 6);
	double ox = MARGIN_X, oy = p->y;
	for (size_t i = 0; i < l->n; i++) {
		const struct coll_prim *q = &l->p[i];
		rgb(cr, (int)q->color);
		cairo_set_line_width(cr, q->width);
		double dash[] = {4, 3};
		cairo_set_dash(cr, dash, q->dashed ? 2 : 0, 0);
		switch (q->kind) {
		case COLL_PRIM_LINE:
			cairo_move_to(cr, ox + q->x0, oy + q->y0);
			cairo_line_to(cr, ox + q->x1, oy + q->y1);
			cairo_stroke(cr);
			break;
		case COLL_PRIM_POLY:
			for (size_t k = 0; k < q->n; k++)
				(k ? cairo_line_to : cairo_move_to)(cr, ox + q->px[k],
								    oy + q->py[k]);
			cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
			cairo_stroke(cr);
			break;
		case COLL_PRIM_DOT:
			cairo_arc(cr, ox + q->x0, oy + q->y0, 2.5, 0, 2 * M_PI);
			cairo_fill(cr);
			break;
		case COLL_PRIM_RECT:
			cairo_rectangle(cr, ox + q->x0, oy + q->y0, q->x1, q->y1);
			cairo_fill(cr);
			break;
		case COLL_PRIM_TEXT: {
			/* the SVG's y is the baseline: pango's is the top */
			PangoLayout *t = layout(cr, q->text, q->size, false, 0);
			double base = (double)pango_layout_get_baseline(t) / PANGO_SCALE;
			double tw = width_of(t);
			double x = q->anchor == COLL_ANCHOR_END      ? q->x0 - tw
				   : q->anchor == COLL_ANCHOR_MIDDLE ? q->x0 - tw / 2
								     : q->x0;
			draw(cr, t, ox + x, oy + q->y0 - base, (int)q->color);
			g_object_unref(t);
			break;
		}
		}
	}
	cairo_set_dash(cr, NULL, 0, 0);
	p->y += CHART_H + 6;
	free(l);
}

/* One table row at p->y: returns its height (draw false: measure only). */
static double row(struct pdf *p, const struct coll_block *b, size_t r, const double *x,
		  const double *w, bool draw_it)
{
	cairo_t *cr = p->cr;
	PangoLayout *ls[COLL_DOC_MAX_COLS] = {0};
	double h = 0;
	for (size_t c = 0; c < b->cols; c++) {
		const struct coll_cell *cell = &b->cells[r * b->cols + c];
		double indent = cell->color >= 0 ? 10 : 0;
		ls[c] = layout(cr, cell->text, 8.3, r == 0, w[c] - 2 * PAD - indent);
		h = fmax(h, height_of(ls[c]));
	}
	h += 2 * PAD;
	if (draw_it) {
		if (r == 0) {
			cairo_set_source_rgb(cr, 0.965, 0.973, 0.98);
			cairo_rectangle(cr, MARGIN_X, p->y, CONTENT_W, h);
			cairo_fill(cr);
		}
		for (size_t c = 0; c < b->cols; c++) {
			const struct coll_cell *cell = &b->cells[r * b->cols + c];
			double indent = 0;
			if (cell->color >= 0) {
				rgb(cr, cell->color);
				cairo_rectangle(cr, x[c] + PAD, p->y + PAD + 2.5, 7, 7);
				cairo_fill(cr);
				indent = 10;
			}
			draw(cr, ls[c], x[c] + PAD + indent, p->y + PAD, COLL_COLOR_TEXT);
		}
		rgb(cr, COLL_COLOR_GRID);
		cairo_set_line_width(cr, 0.5);
		cairo_rectangle(cr, MARGIN_X, p->y, CONTENT_W, h);
		for (size_t c = 1; c < b->cols; c++) {
			cairo_move_to(cr, x[c], p->y);
			cairo_line_to(cr, x[c], p->y + h);
		}
		cairo_stroke(cr);
	}
	for (size_t c = 0; c < b->cols; c++)
		g_object_unref(ls[c]);
	return h;
}

static void table(struct pdf *p, const struct coll_block *b)
{
	double x[COLL_DOC_MAX_COLS], w[COLL_DOC_MAX_COLS], sum = 0;
	for (size_t c = 0; c < b->cols; c++)
		sum += b->weight[c] > 0 ? b->weight[c] : 1;
	double at = MARGIN_X;
	for (size_t c = 0; c < b->cols; c++) {
		w[c] = CONTENT_W * (b->weight[c] > 0 ? b->weight[c] : 1) / sum;
		x[c] = at;
		at += w[c];
	}
	double hh = row(p, b, 0, x, w, false);
	for (size_t r = 0; r < b->rows; r++) {
		double h = row(p, b, r, x, w, false);
		/* the header stays with the first row; a row never splits, and a
		 * new page repeats the header */
		if (p->y + h + (r == 0 && b->rows > 1 ? row(p, b, 1, x, w, false) : 0) > BOTTOM &&
		    p->y > TOP) {
			new_page(p);
			if (r > 0)
				p->y += row(p, b, 0, x, w, true);
		}
		p->y += row(p, b, r, x, w, true);
	}
	(void)hh;
	p->y += 6;
}

static void bullets(struct pdf *p, const struct coll_block *b)
{
	for (size_t i = 0; i < b->rows; i++) {
		PangoLayout *l = layout(p->cr, b->cells[i].text, 9.5, false, CONTENT_W - 14);
		double h = height_of(l);
		room(p, h);
		put(p->cr, "•", MARGIN_X + 3, p->y, 9.5, false, COLL_COLOR_S0, COLL_ANCHOR_START);
		draw(p->cr, l, MARGIN_X + 14, p->y, COLL_COLOR_TEXT);
		p->y += h + 4;
		g_object_unref(l);
	}
}

static void pass(struct pdf *p)
{
	p->page = 0;
	new_page(p);
	title_block(p);
	for (size_t i = 0; i < p->d->n; i++) {
		const struct coll_block *b = &p->d->v[i];
		switch (b->kind) {
		case COLL_BLOCK_HEADING: {
			/* a heading never ends a page: it keeps its lead-in and chart */
			const struct coll_block *n1 = i + 1 < p->d->n ? &p->d->v[i + 1] : NULL;
			const struct coll_block *n2 = i + 2 < p->d->n ? &p->d->v[i + 2] : NULL;
			bool chart_next = (n1 && n1->kind == COLL_BLOCK_CHART) ||
					  (n1 && n1->kind == COLL_BLOCK_TEXT && n2 &&
					   n2->kind == COLL_BLOCK_CHART);
			heading(p, b->text, chart_next ? CHART_H + 30 : 70);
			break;
		}
		case COLL_BLOCK_TEXT: {
			/* a lead-in line stays with the chart or table it introduces */
			const struct coll_block *next = i + 1 < p->d->n ? &p->d->v[i + 1] : NULL;
			double keep = !next                            ? 0
				      : next->kind == COLL_BLOCK_CHART ? CHART_H + 6
				      : next->kind == COLL_BLOCK_TABLE ? 50
								       : 0;
			paragraph(p, b->text, COLL_COLOR_TEXT, 9.5, false, keep);
			break;
		}
		case COLL_BLOCK_NODATA:
			paragraph(p, b->text, COLL_COLOR_MUTED, 9.5, false, 0);
			break;
		case COLL_BLOCK_SCORE:
			score(p, b);
			break;
		case COLL_BLOCK_TABLE:
			table(p, b);
			break;
		case COLL_BLOCK_CHART:
			chart(p, b->chart);
			break;
		case COLL_BLOCK_BULLETS:
			bullets(p, b);
			break;
		}
	}
	cairo_show_page(p->cr);
}

static cairo_status_t sink(void *closure, const unsigned char *data, unsigned int len)
{
	struct ep_buf *b = closure;
	return ep_buf_append(b, data, len) == 0 ? CAIRO_STATUS_SUCCESS : CAIRO_STATUS_WRITE_ERROR;
}

/* One pass into out, or (out NULL) into a recording surface that only
 * counts the pages. Text is measured with the same font options in both
 * (no hinting of metrics, as on a PDF surface), so both break pages alike.
 * 0 or -EIO. */
static int run(struct pdf *p, struct ep_buf *out)
{
	cairo_rectangle_t page = {0, 0, PAGE_W, PAGE_H};
	cairo_surface_t *sf =
		out ? cairo_pdf_surface_create_for_stream(sink, out, PAGE_W, PAGE_H)
		    : cairo_recording_surface_create(CAIRO_CONTENT_COLOR_ALPHA, &page);
	if (out) {
		cairo_pdf_surface_set_metadata(sf, CAIRO_PDF_METADATA_TITLE, p->d->title);
		cairo_pdf_surface_set_metadata(sf, CAIRO_PDF_METADATA_SUBJECT, p->d->period);
		cairo_pdf_surface_set_metadata(sf, CAIRO_PDF_METADATA_AUTHOR, p->d->customer);
		cairo_pdf_surface_set_metadata(sf, CAIRO_PDF_METADATA_CREATOR, "erpulse");
	}
	p->cr = cairo_create(sf);
	PangoContext *pc = pango_cairo_create_context(p->cr);
	cairo_font_options_t *fo = cairo_font_options_create();
	cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
	cairo_font_options_set_hint_style(fo, CAIRO_HINT_STYLE_NONE);
	pango_cairo_context_set_font_options(pc, fo);
	cairo_font_options_destroy(fo);
	cairo_set_user_data(p->cr, &pango_key, pc, g_object_unref);
	pass(p);
	cairo_destroy(p->cr);
	p->cr = NULL;
	cairo_surface_finish(sf);
	cairo_status_t st = cairo_surface_status(sf);
	cairo_surface_destroy(sf);
	return st == CAIRO_STATUS_SUCCESS ? 0 : -EIO;
}

int coll_render_pdf(const struct coll_doc *d, unsigned char **ret, size_t *ret_len, char *err,
		    size_t err_size)
{
	struct pdf p = {.d = d};
	struct ep_buf b;
	ep_buf_init(&b, COLL_REPORT_MAX_BYTES);
	int r = run(&p, NULL);
	if (r == 0) {
		p.pages = p.page;
		r = run(&p, &b);
	}
	if (r < 0 || !b.data) {
		snprintf(err, err_size,
			 "rendering the PDF report: cairo failed (out of memory, or "
			 "larger than the limit)");
		ep_buf_free(&b);
		return -EIO;
	}
	*ret_len = b.len;
	*ret = (unsigned char *)ep_buf_steal(&b);
	return 0;
}
