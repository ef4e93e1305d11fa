/* The HTML renderer (render.h): one file, inline CSS and inline SVG charts,
 * nothing fetched from anywhere (no src, no href to another resource). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "collector/report/render.h"
#include "erpulse/util.h"

#define CHART_W 500.0
#define CHART_H 170.0

static const char css[] =
	"body{font-family:'Noto Sans CJK SC','Noto Sans SC','Microsoft YaHei','PingFang SC',"
	"sans-serif;color:#1f2328;max-width:820px;margin:24px auto;padding:0 16px;"
	"font-size:14px;line-height:1.5}"
	"header{border-bottom:2px solid #0969da;margin-bottom:16px;padding-bottom:8px}"
	"header h1{font-size:22px;margin:0}header p{margin:2px 0;color:#656d76}"
	"h2{font-size:17px;margin:24px 0 8px;border-bottom:1px solid #d8dee4;"
	"padding-bottom:4px;break-after:avoid;page-break-after:avoid}"
	"table{border-collapse:collapse;width:100%;margin:8px 0;font-size:13px}"
	"th,td{border:1px solid #d8dee4;padding:4px 6px;text-align:left;vertical-align:top}"
	"th{background:#f6f8fa}tr{break-inside:avoid;page-break-inside:avoid}"
	".sw{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px;"
	"vertical-align:middle}"
	".nodata{color:#656d76;font-style:italic}"
	".score{display:flex;align-items:center;gap:16px;margin:8px 0}"
	".score b{font-size:40px;color:#fff;border-radius:8px;padding:4px 16px}"
	".score span{font-size:18px}"
	"svg{display:block;max-width:100%;height:auto;margin:6px 0}"
	"footer{margin-top:32px;color:#656d76;font-size:12px;border-top:1px solid #d8dee4;"
	"padding-top:6px}"
	"@media print{body{margin:0;max-width:none;font-size:11pt}"
	"@page{size:A4;margin:16mm 14mm}h2{break-after:avoid}"
	"table,svg{break-inside:avoid;page-break-inside:avoid}}";

static int esc(struct ep_buf *b, const char *s)
{
	int r = 0;
	for (; s && *s && r == 0; s++) {
		switch (*s) {
		case '<':
			r = ep_buf_append(b, "&lt;", 4);
			break;
		case '>':
			r = ep_buf_append(b, "&gt;", 4);
			break;
		case '&':
			r = ep_buf_append(b, "&amp;", 5);
			break;
		case '"':
			r = ep_buf_append(b, "&quot;", 6);
			break;
		default:
			r = ep_buf_append(b, s, 1);
		}
	}
	return r;
}

static void hex(char out[8], int color)
{
	snprintf(out, 8, "#%06x", (unsigned)coll_color_rgb((enum coll_color)color) & 0xffffffu);
}

static int svg(struct ep_buf *b, const struct coll_chart *c)
{
	struct coll_chart_layout *l = malloc(sizeof(*l));
	if (!l)
		return -ENOMEM;
	coll_chart_layout(c, CHART_W, CHART_H, l);
	int r = ep_buf_printf(b,
			      "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %.0f %.0f\""
			      " width=\"%.0f\" height=\"%.0f\" role=\"img\">",
			      CHART_W, CHART_H, CHART_W * 1.5, CHART_H * 1.5);
	for (size_t i = 0; r == 0 && i < l->n; i++) {
		const struct coll_prim *p = &l->p[i];
		char col[8];
		hex(col, (int)p->color);
		switch (p->kind) {
		case COLL_PRIM_LINE:
			r = ep_buf_printf(b,
					  "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\""
					  " stroke=\"%s\" stroke-width=\"%.1f\"%s/>",
					  p->x0, p->y0, p->x1, p->y1, col, p->width,
					  p->dashed ? " stroke-dasharray=\"4 3\"" : "");
			break;
		case COLL_PRIM_POLY:
			r = ep_buf_printf(b,
					  "<polyline fill=\"none\" stroke=\"%s\""
					  " stroke-width=\"%.1f\" points=\"",
					  col, p->width);
			for (size_t k = 0; r == 0 && k < p->n; k++)
				r = ep_buf_printf(b, "%s%.1f,%.1f", k ? " " : "", p->px[k],
						  p->py[k]);
			if (r == 0)
				r = ep_buf_printf(b, "\"/>");
			break;
		case COLL_PRIM_DOT:
			r = ep_buf_printf(b,
					  "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>",
					  p->x0, p->y0, col);
			break;
		case COLL_PRIM_RECT:
			r = ep_buf_printf(b,
					  "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\""
					  " height=\"%.1f\" fill=\"%s\"/>",
					  p->x0, p->y0, p->x1, p->y1, col);
			break;
		case COLL_PRIM_TEXT: {
			static const char *const anchor[] = {"start", "middle", "end"};
			r = ep_buf_printf(b,
					  "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%.1f\""
					  " fill=\"%s\" text-anchor=\"%s\">",
					  p->x0, p->y0, p->size, col, anchor[p->anchor]);
			if (r == 0)
				r = esc(b, p->text);
			if (r == 0)
				r = ep_buf_printf(b, "</text>");
			break;
		}
		}
	}
	free(l);
	return r ? r : ep_buf_printf(b, "</svg>\n");
}

static int cell(struct ep_buf *b, const char *tag, const struct coll_cell *c)
{
	int r = ep_buf_printf(b, "<%s>", tag);
	if (r == 0 && c->color >= 0) {
		char col[8];
		hex(col, c->color);
		r = ep_buf_printf(b, "<span class=\"sw\" style=\"background:%s\"></span>", col);
	}
	if (r == 0)
		r = esc(b, c->text);
	return r ? r : ep_buf_printf(b, "</%s>", tag);
}

static int table(struct ep_buf *b, const struct coll_block *k)
{
	double sum = 0;
	for (size_t c = 0; c < k->cols; c++)
		sum += k->weight[c];
	int r = ep_buf_printf(b, "<table><colgroup>");
	for (size_t c = 0; r == 0 && c < k->cols; c++)
		r = ep_buf_printf(b, "<col style=\"width:%.0f%%\">",
				  sum > 0 ? 100 * k->weight[c] / sum : 0);
	if (r == 0)
		r = ep_buf_printf(b, "</colgroup>");
	for (size_t row = 0; r == 0 && row < k->rows; row++) {
		r = ep_buf_printf(b, row == 0 ? "<thead><tr>" : "<tr>");
		for (size_t c = 0; r == 0 && c < k->cols; c++)
			r = cell(b, row == 0 ? "th" : "td", &k->cells[row * k->cols + c]);
		if (r == 0)
			r = ep_buf_printf(b, row == 0 ? "</tr></thead><tbody>" : "</tr>");
	}
	return r ? r : ep_buf_printf(b, "</tbody></table>\n");
}

static int block(struct ep_buf *b, const struct coll_block *k)
{
	char col[8];
	int r = 0;
	switch (k->kind) {
	case COLL_BLOCK_HEADING:
	case COLL_BLOCK_TEXT:
	case COLL_BLOCK_NODATA:
		r = ep_buf_printf(b, k->kind == COLL_BLOCK_HEADING  ? "<h2>"
				     : k->kind == COLL_BLOCK_NODATA ? "<p class=\"nodata\">"
								    : "<p>");
		if (r == 0)
			r = esc(b, k->text);
		if (r == 0)
			r = ep_buf_printf(b, k->kind == COLL_BLOCK_HEADING ? "</h2>\n" : "</p>\n");
		return r;
	case COLL_BLOCK_SCORE:
		hex(col, k->color);
		r = ep_buf_printf(b, "<div class=\"score\"><b style=\"background:%s\">", col);
		if (r == 0)
			r = esc(b, k->text);
		if (r == 0)
			r = ep_buf_printf(b, "</b><span>");
		if (r == 0)
			r = esc(b, k->sub);
		return r ? r : ep_buf_printf(b, "</span></div>\n");
	case COLL_BLOCK_TABLE:
		return table(b, k);
	case COLL_BLOCK_CHART:
		return svg(b, k->chart);
	case COLL_BLOCK_BULLETS:
		r = ep_buf_printf(b, "<ul>");
		for (size_t i = 0; r == 0 && i < k->rows; i++) {
			r = ep_buf_printf(b, "<li>");
			if (r == 0)
				r = esc(b, k->cells[i].text);
			if (r == 0)
				r = ep_buf_printf(b, "</li>");
		}
		return r ? r : ep_buf_printf(b, "</ul>\n");
	}
	return 0;
}

int coll_render_html(const struct coll_doc *d, unsigned char **ret, size_t *ret_len, char *err,
		     size_t err_size)
{
	struct ep_buf b;
	ep_buf_init(&b, COLL_REPORT_MAX_BYTES);
	int r = ep_buf_printf(&b,
			      "<!DOCTYPE html>\n<html lang=\"%s\"><head><meta charset=\"utf-8\">"
			      "<meta name=\"viewport\" content=\"width=device-width\"><title>",
			      d->lang);
	if (r == 0)
		r = esc(&b, d->title);
	if (r == 0)
		r = ep_buf_printf(&b, " — ");
	if (r == 0)
		r = esc(&b, d->customer);
	if (r == 0)
		r = ep_buf_printf(&b, "</title><style>%s</style></head><body><header><h1>", css);
	if (r == 0)
		r = esc(&b, d->title);
	if (r == 0)
		r = ep_buf_printf(&b, "</h1><p><strong>");
	if (r == 0)
		r = esc(&b, d->customer);
	if (r == 0)
		r = ep_buf_printf(&b, "</strong> · ");
	if (r == 0)
		r = esc(&b, d->period);
	if (r == 0)
		r = ep_buf_printf(&b, "</p><p>");
	if (r == 0)
		r = esc(&b, d->generated);
	if (r == 0)
		r = ep_buf_printf(&b, "</p></header>\n<main>\n");
	for (size_t i = 0; r == 0 && i < d->n; i++)
		r = block(&b, &d->v[i]);
	if (r == 0)
		r = ep_buf_printf(&b, "</main><footer>erpulse · ");
	if (r == 0)
		r = esc(&b, d->customer);
	if (r == 0)
		r = ep_buf_printf(&b, " · ");
	if (r == 0)
		r = esc(&b, d->period);
	if (r == 0)
		r = ep_buf_printf(&b, "</footer></body></html>\n");
	if (r < 0) {
		snprintf(err, err_size, "rendering the HTML report: %s",
			 r == -E2BIG ? "larger than the limit" : "out of memory");
		ep_buf_free(&b);
		return r;
	}
	*ret_len = b.len;
	*ret = (unsigned char *)ep_buf_steal(&b);
	return 0;
}
