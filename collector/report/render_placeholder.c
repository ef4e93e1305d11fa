/* PLACEHOLDER (report-deliver branch): stands in for report-render's
 * model.c / render_*.c until they land, so that the delivery (scheduler,
 * mail, API) builds and its tests run. The lead deletes this file at merge.
 * A one-page PDF and a small HTML page naming the customer and the month. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/report/report.h"
#include "erpulse/util.h"

static void ascii_only(const char *in, char *out, size_t size)
{
	size_t o = 0;
	for (; in && *in && o + 1 < size; in++) {
		unsigned char c = (unsigned char)*in;
		out[o++] = (c < 0x20 || c > 0x7e || c == '(' || c == ')' || c == '\\' || c == '<' ||
			    c == '>' || c == '&')
				   ? '?'
				   : (char)c;
	}
	out[o] = '\0';
}

static int pdf(const char *text, struct ep_buf *b)
{
	size_t off[6];
	char stream[512];
	int r = 0, n = snprintf(stream, sizeof(stream), "BT /F1 18 Tf 72 760 Td (%s) Tj ET", text);
	r |= ep_buf_printf(b, "%%PDF-1.4\n%%\xe2\xe3\xcf\xd3\n");
	off[1] = b->len;
	r |= ep_buf_printf(b, "1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n");
	off[2] = b->len;
	r |= ep_buf_printf(b, "2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n");
	off[3] = b->len;
	r |= ep_buf_printf(b, "3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842]"
			      " /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>\n"
			      "endobj\n");
	off[4] = b->len;
	r |= ep_buf_printf(b, "4 0 obj\n<< /Length %d >>\nstream\n%s\nendstream\nendobj\n", n,
			   stream);
	off[5] = b->len;
	r |= ep_buf_printf(b, "5 0 obj\n<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>\n"
			      "endobj\n");
	size_t xref = b->len;
	r |= ep_buf_printf(b, "xref\n0 6\n0000000000 65535 f \n");
	for (int i = 1; i <= 5; i++)
		r |= ep_buf_printf(b, "%010zu 00000 n \n", off[i]);
	r |= ep_buf_printf(b, "trailer\n<< /Size 6 /Root 1 0 R >>\nstartxref\n%zu\n%%%%EOF\n",
			   xref);
	return r;
}

int coll_report_render(struct coll_store *s, const struct coll_report_request *rq,
		       enum coll_report_format format, unsigned char **ret, size_t *ret_len,
		       char *err, size_t err_size)
{
	struct ep_buf b;
	char name[256], text[400];
	int r;
	(void)s;
	if (!rq || !rq->customer || rq->month < 1 || rq->month > 12) {
		snprintf(err, err_size, "report: customer and month 1..12 required");
		return -1;
	}
	ascii_only(rq->customer, name, sizeof(name));
	snprintf(text, sizeof(text), "erpulse monthly report %s %04d-%02d (%s)", name, rq->year,
		 rq->month, rq->lang ? rq->lang : "en");
	ep_buf_init(&b, 1 << 20);
	if (format == COLL_REPORT_PDF)
		r = pdf(text, &b);
	else
		r = ep_buf_printf(
			&b,
			"<!DOCTYPE html>\n<html lang=\"%s\"><head><meta charset=\"utf-8\">"
			"<title>%s</title></head><body><h1>%s</h1></body></html>\n",
			rq->lang ? rq->lang : "en", text, text);
	if (r) {
		ep_buf_free(&b);
		snprintf(err, err_size, "report: out of memory");
		return -1;
	}
	*ret_len = b.len;
	*ret = (unsigned char *)ep_buf_steal(&b);
	return 0;
}

int coll_report_filename(const char *customer_name, int year, int month, const char *lang,
			 enum coll_report_format format, char *buf, size_t size)
{
	int n = snprintf(buf, size, "erpulse-%s-%04d-%02d.%s.%s", customer_name, year, month,
			 lang ? lang : "en", format == COLL_REPORT_PDF ? "pdf" : "html");
	for (char *p = buf; *p; p++)
		if (*p == '/' || (unsigned char)*p < 0x20)
			*p = '-';
	return n < 0 || (size_t)n >= size ? -ENOSPC : 0;
}
