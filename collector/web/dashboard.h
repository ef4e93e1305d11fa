/* The dashboard (docs/dashboard.md): one HTML page (inline CSS and vanilla
 * JS; uPlot and the catalogs as its only other files) that reads the collector's read API
 * with a bearer token the user pastes in. Its source of truth is
 * collector/web/index.html, embedded byte for byte by
 * collector/web/embed.py into collector/web/page.inc. */
#ifndef COLL_DASHBOARD_H
#define COLL_DASHBOARD_H

#include <stddef.h>

/* The Content-Security-Policy the page needs and must be served with: no
 * source but the SHA-256 hashes of its one inline <script> and <style>,
 * fetch() to its own origin only, Trusted Types required (no HTML sinks). */
extern const char coll_dashboard_csp[];

struct coll_dashboard_header {
	const char *name;
	const char *value;
};
/* Every header to send with the page (the CSP above, nosniff, no-referrer,
 * no framing, no caching); ends with {NULL, NULL}. */
extern const struct coll_dashboard_header coll_dashboard_headers[];

/* uPlot's path (relative to the page's base); its SHA-256 is in the CSP. */
#define COLL_DASHBOARD_UPLOT "vendor/uplot/uPlot.iife.min.js"

/* The page for url: "/", "/index.html" and "/hosts/ID" (ID a valid agent id:
 * the links in alert notices, which the page opens on that host); uPlot at
 * "/" COLL_DASHBOARD_UPLOT; the catalogs at "/i18n/LANG.json". Sets the
 * static body, its length and its Content-Type (each ret_* may be NULL).
 * 0, or -ENOENT for any other url (outputs untouched). */
int coll_dashboard_asset(const char *url, const char **ret_body, size_t *ret_len,
			 const char **ret_content_type);

#endif
