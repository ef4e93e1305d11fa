/* coll_report_render (report.h): model, document, renderer. Nothing global:
 * the store handle is the caller's, every buffer is this call's. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/report/doc.h"
#include "collector/report/model.h"
#include "collector/report/render.h"
#include "collector/report/report.h"
#include "collector/web/i18n.h"
#include "erpulse/util.h"

int coll_report_render(struct coll_store *s, const struct coll_report_request *rq,
		       enum coll_report_format format, unsigned char **ret, size_t *ret_len,
		       char *err, size_t err_size)
{
	struct coll_report_model *m = malloc(sizeof(*m));
	struct coll_doc d;
	int r;
	if (!m) {
		snprintf(err, err_size, "report: out of memory");
		return -1;
	}
	r = coll_report_model_build(s, rq, m, err, err_size);
	if (r == 0 && (r = coll_doc_build(m, rq->lang ? rq->lang : "en", &d)) < 0)
		snprintf(err, err_size, "report: out of memory");
	free(m);
	if (r < 0)
		return -1;
	r = format == COLL_REPORT_PDF ? coll_render_pdf(&d, ret, ret_len, err, err_size)
				      : coll_render_html(&d, ret, ret_len, err, err_size);
	coll_doc_free(&d);
	return r < 0 ? -1 : 0;
}

/* The length of the UTF-8 character at p (a valid sequence that fits in
 * left bytes) worth keeping in a file name: a letter of any script, not a C1
 * control, not a bidirectional control (U+202A-U+202E, U+2066-U+2069: a
 * name could read backwards), not U+FEFF; 0 otherwise. */
static size_t name_char(const unsigned char *p, size_t left)
{
	size_t n = *p >= 0xf0 ? 4 : *p >= 0xe0 ? 3 : *p >= 0xc0 ? 2 : 0;
	if (n == 0 || n > left || !ep_utf8_valid((const char *)p, n))
		return 0;
	unsigned cp = n == 2   ? (p[0] & 0x1fu) << 6 | (p[1] & 0x3fu)
		      : n == 3 ? (p[0] & 0x0fu) << 12 | (p[1] & 0x3fu) << 6 | (p[2] & 0x3fu)
			       : (p[0] & 0x07u) << 18 | (p[1] & 0x3fu) << 12 | (p[2] & 0x3fu) << 6 |
					 (p[3] & 0x3fu);
	if (cp < 0xa0 || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) ||
	    cp == 0xfeff)
		return 0;
	return n;
}

int coll_report_filename(const char *customer_name, int year, int month, const char *lang,
			 enum coll_report_format format, char *buf, size_t size)
{
	char name[128];
	size_t n = 0;
	const char *in = customer_name ? customer_name : "";
	size_t left = strlen(in);
	/* letters and digits of any script, '-' and '_'; anything else (spaces,
	 * '/', controls, broken UTF-8) becomes '-': "北京测试" stays readable */
	while (left && n + 1 < sizeof(name)) {
		const unsigned char *p = (const unsigned char *)in;
		size_t k = name_char(p, left);
		if (k && n + k < sizeof(name)) {
			memcpy(name + n, in, k);
			n += k;
		} else if (k) {
			break; /* a character never cut in two */
		} else {
			k = 1;
			name[n++] = isalnum(*p) || *p == '_' ? (char)*p : '-';
			/* the rest of a sequence that was not kept */
			while (*p >= 0xc0 && k < left && (p[k] & 0xc0) == 0x80)
				k++;
		}
		in += k;
		left -= k;
	}
	name[n] = '\0';
	int w = snprintf(buf, size, "erpulse-%s-%04d-%02d.%s.%s", n ? name : "customer", year,
			 month, coll_i18n_lang(lang), format == COLL_REPORT_PDF ? "pdf" : "html");
	return w < 0 || (size_t)w >= size ? -ENOSPC : 0;
}
