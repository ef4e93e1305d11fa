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

int coll_report_filename(const char *customer_name, int year, int month, const char *lang,
			 enum coll_report_format format, char *buf, size_t size)
{
	char name[128];
	size_t n = 0;
	/* a file name anyone can type: letters, digits, '-' and '_' (others '-') */
	for (const char *p = customer_name ? customer_name : ""; *p && n + 1 < sizeof(name); p++)
		name[n++] = isalnum((unsigned char)*p) || *p == '_' ? *p : '-';
	name[n] = '\0';
	int w = snprintf(buf, size, "erpulse-%s-%04d-%02d.%s.%s", n ? name : "customer", year,
			 month, coll_i18n_lang(lang), format == COLL_REPORT_PDF ? "pdf" : "html");
	return w < 0 || (size_t)w >= size ? -ENOSPC : 0;
}
