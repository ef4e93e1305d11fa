/* The two renderers of a coll_doc (doc.h). Each returns 0 with *ret
 * malloc'd (*ret_len bytes; the caller frees), or -errno with err. */
#ifndef COLL_REPORT_RENDER_H
#define COLL_REPORT_RENDER_H

#include <stddef.h>

#include "collector/report/doc.h"

#define COLL_REPORT_MAX_BYTES (32u * 1024 * 1024) /* a report never grows past this */

/* A4 PDF through cairo + pango: vector charts, fonts embedded (subsets),
 * a header (customer, month) and a footer ("page N of M") on every page. */
int coll_render_pdf(const struct coll_doc *d, unsigned char **ret, size_t *ret_len, char *err,
		    size_t err_size);
/* One self-contained HTML file: inline CSS and SVG, no external resource,
 * styles for print. */
int coll_render_html(const struct coll_doc *d, unsigned char **ret, size_t *ret_len, char *err,
		     size_t err_size);

#endif
