/* `erpulse-collector scores` (cli.h; docs/collector.md "Command line"): the
 * fleet's risk table, worst first. Without options the whole fleet is
 * streamed page by page (customers, then hosts, revoked ones last); with
 * --limit N, --customer C, --band B or --after CURSOR the hosts that are not
 * revoked, filtered, and with --limit only the first N, followed by the
 * cursor of the next page. Never holds the fleet in memory whole. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/cli.h"
#include "collector/web/i18n.h"
#include "erpulse/util.h"

const char *coll_cli_jstr(const json_t *o, const char *k, const char *def)
{
	const json_t *v = json_object_get(o, k);
	return json_is_string(v) ? json_string_value(v) : def;
}

void coll_cli_jint(const json_t *o, const char *k, char *buf, size_t size)
{
	const json_t *v = json_object_get(o, k);
	if (json_is_integer(v))
		snprintf(buf, size, "%lld", (long long)json_integer_value(v));
	else
		snprintf(buf, size, "-");
}

/* The CLI's language: the locale's (LC_ALL, LC_MESSAGES, LANG), as gettext. */
static const char *cli_lang(void)
{
	static const char *const vars[] = {"LC_ALL", "LC_MESSAGES", "LANG"};
	for (size_t i = 0; i < EP_ARRAY_SIZE(vars); i++) {
		const char *v = getenv(vars[i]);
		if (v && *v)
			return coll_i18n_lang(v);
	}
	return "en";
}

/* What one walk over a list asks: the list, its state (hosts: see struct
 * coll_page), the filters, where to start and how many rows at most (0:
 * all). The walk leaves in next the cursor after the last row it gave
 * when rows are left beyond limit ("" when none are). */
struct walk {
	bool hosts;
	const char *state;
	const char *customer; /* an id */
	const char *band;
	const char *after;
	int64_t limit;
	void (*fn)(json_t *row, void *ctx);
	void *ctx;
	size_t n;
	char next[COLL_CURSOR_MAX];
};

/* 0 or -errno (s->err; -EINVAL: a cursor that is not this list's). */
static int walk(struct coll_store *s, struct walk *w)
{
	struct coll_scope all = {.customer_id = NULL};
	struct coll_page *p = calloc(1, sizeof(*p));
	char *cursor = w->after ? strdup(w->after) : NULL;
	int r = p && (cursor || !w->after) ? 0 : -ENOMEM;
	w->n = 0;
	w->next[0] = '\0';
	/* the whole list: a first page of 50 (on the screen in the time of
	 * `--limit 50`), then four times larger ones up to COLL_PAGE_MAX */
	int64_t page = w->limit ? COLL_PAGE_MAX : 50;
	while (r == 0) {
		json_t *items = NULL, *row;
		size_t i;
		int64_t left = w->limit ? w->limit - (int64_t)w->n : page;
		memset(p, 0, sizeof(*p));
		p->sort = "score";
		p->state = w->state;
		p->customer = w->customer;
		p->band = w->band;
		p->limit = left < COLL_PAGE_MAX ? left : COLL_PAGE_MAX;
		p->cursor = cursor;
		r = w->hosts ? coll_store_hosts_page(s, &all, ep_wall_ms() / 1000, p, &items)
			     : coll_store_customers_page(s, &all, p, &items);
		free(cursor);
		cursor = NULL;
		if (r < 0)
			break;
		json_array_foreach(items, i, row)
		{
			w->fn(row, w->ctx);
		}
		w->n += json_array_size(items);
		json_decref(items);
		fflush(stdout); /* a page at a time, also into a pipe */
		page = page * 4 < COLL_PAGE_MAX ? page * 4 : COLL_PAGE_MAX;
		if (!p->next[0])
			break;
		if (w->limit && (int64_t)w->n >= w->limit) {
			snprintf(w->next, sizeof(w->next), "%s", p->next);
			break;
		}
		if (!(cursor = strdup(p->next)))
			r = -ENOMEM;
	}
	free(cursor);
	free(p);
	return r;
}

/* One table row: cells padded to their columns by display width (CJK
 * characters take two), two spaces apart, the last cell unpadded. */
struct col {
	size_t width;
	bool right;
};
static void table_row(const struct col *cols, size_t n, const char *const *cells)
{
	for (size_t i = 0; i < n; i++) {
		ep_fput_padded(stdout, cells[i], i + 1 < n ? cols[i].width : 0, cols[i].right);
		fputs(i + 1 < n ? "  " : "\n", stdout);
	}
}

static const struct col ccols[] = {{5, true}, {9, false}, {30, false}, {5, true}};
static const struct col hcols[] = {{5, true},   {9, false}, {20, false}, {24, false},
				   {14, false}, {6, true},  {0, false}};

static void customer_row(json_t *c, void *ctx)
{
	(void)ctx;
	char score[16], n[16];
	coll_cli_jint(c, "score", score, sizeof(score));
	coll_cli_jint(c, "hosts", n, sizeof(n));
	table_row(ccols, 4,
		  (const char *[]){score, coll_cli_jstr(c, "band", "-"),
				   coll_cli_jstr(c, "name", "-"), n});
}

static void host_row(json_t *h, void *ctx)
{
	(void)ctx;
	char score[16], alerts[16];
	coll_cli_jint(h, "score", score, sizeof(score));
	coll_cli_jint(h, "open_alerts", alerts, sizeof(alerts));
	table_row(hcols, 7,
		  (const char *[]){
			  score, coll_cli_jstr(h, "band", "-"), coll_cli_jstr(h, "customer", "-"),
			  coll_cli_jstr(h, "hostname", "-"), coll_cli_jstr(h, "state", "-"), alerts,
			  coll_cli_jstr(h, "top_reason", "-")});
}

static void json_row(json_t *row, void *ctx)
{
	size_t *n = ctx;
	char *text = json_dumps(row, JSON_COMPACT | JSON_PRESERVE_ORDER);
	printf("%s\n  %s", (*n)++ ? "," : "", text ? text : "null");
	free(text);
}

static void host_header(const char *lang)
{
	table_row(hcols, 7,
		  (const char *[]){coll_i18n_text(lang, "cli.scores.score"),
				   coll_i18n_text(lang, "cli.scores.band"),
				   coll_i18n_text(lang, "cli.scores.customer"),
				   coll_i18n_text(lang, "cli.scores.host"),
				   coll_i18n_text(lang, "cli.scores.state"),
				   coll_i18n_text(lang, "cli.scores.alerts"),
				   coll_i18n_text(lang, "cli.scores.reason")});
}

static int failed(struct coll_store *s, int r)
{
	if (r == -EINVAL) { /* the store refused an argument: the cursor */
		fprintf(stderr, "erpulse-collector: scores: %s\n", s->err);
		return 2;
	}
	fprintf(stderr, "erpulse-collector: scores: %s\n", r == -ENOMEM ? "out of memory" : s->err);
	return 1;
}

/* The whole fleet: customers worst first (the customer score is its worst
 * production host's), then the hosts worst first, revoked ones last. */
static int whole(struct coll_store *s, bool json)
{
	const char *lang = cli_lang();
	size_t rows = 0;
	struct walk w = {.hosts = false, .fn = json ? json_row : customer_row, .ctx = &rows};
	if (json)
		printf("{\"customers\": [");
	else
		table_row(ccols, 4,
			  (const char *[]){coll_i18n_text(lang, "cli.scores.score"),
					   coll_i18n_text(lang, "cli.scores.band"),
					   coll_i18n_text(lang, "cli.scores.customer"),
					   coll_i18n_text(lang, "cli.scores.hosts")});
	int r = walk(s, &w);
	if (json)
		printf("\n], \"hosts\": [");
	else
		printf("\n");
	if (!json)
		host_header(lang);
	rows = 0;
	size_t hosts = 0;
	w.fn = json ? json_row : host_row;
	w.hosts = true;
	const char *states[] = {"current", "revoked"};
	for (size_t i = 0; i < 2 && r == 0; i++) {
		w.state = states[i];
		r = walk(s, &w);
		hosts += w.n;
	}
	if (json)
		printf("\n]}\n");
	else if (r == 0 && hosts == 0)
		printf("%s\n", coll_i18n_text(lang, "cli.scores.none"));
	return r < 0 ? failed(s, r) : 0;
}

static int usage_error(const char *why)
{
	fprintf(stderr,
		"erpulse-collector: scores: %s\n"
		"usage: erpulse-collector scores [--limit N] [--customer C] "
		"[--band critical|unknown|at_risk|healthy] [--after CURSOR] [--json]\n",
		why);
	return 2;
}

int coll_cli_scores(struct coll_store *s, int argc, char **argv)
{
	bool json = false, bounded = false;
	const char *customer = NULL;
	char cid[COLL_ID_SIZE], why[256];
	struct walk w = {.hosts = true, .state = "current", .fn = host_row};
	for (int i = 0; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(o, "--json") == 0) {
			json = true;
			continue;
		}
		if (strcmp(o, "--limit") != 0 && strcmp(o, "--customer") != 0 &&
		    strcmp(o, "--band") != 0 && strcmp(o, "--after") != 0) {
			snprintf(why, sizeof(why), "unknown argument '%s'", o);
			return usage_error(why);
		}
		if (!v) {
			snprintf(why, sizeof(why), "%s needs a value", o);
			return usage_error(why);
		}
		i++;
		bounded = true;
		if (strcmp(o, "--limit") == 0 && ep_parse_int64(v, 1, 1000000, &w.limit) < 0)
			return usage_error("--limit: a number of hosts, 1 to 1000000");
		if (strcmp(o, "--customer") == 0)
			customer = v;
		if (strcmp(o, "--band") == 0) {
			if (strcmp(v, "critical") != 0 && strcmp(v, "unknown") != 0 &&
			    strcmp(v, "at_risk") != 0 && strcmp(v, "healthy") != 0)
				return usage_error("--band: critical, unknown, at_risk or healthy");
			w.band = v;
		}
		if (strcmp(o, "--after") == 0) {
			if (!*v || strlen(v) >= COLL_CURSOR_MAX)
				return usage_error("--after: the cursor a previous page printed");
			w.after = v;
		}
	}
	if (!bounded)
		return whole(s, json);
	if (customer) {
		int r = coll_store_customer_find(s, customer, cid);
		if (r == -ENOENT) {
			snprintf(why, sizeof(why), "--customer: no customer '%s'", customer);
			return usage_error(why);
		}
		if (r < 0)
			return failed(s, r);
		w.customer = cid;
	}
	const char *lang = cli_lang();
	size_t rows = 0;
	if (json) {
		w.fn = json_row;
		w.ctx = &rows;
		printf("{\"hosts\": [");
	} else
		host_header(lang);
	int r = walk(s, &w);
	if (json) {
		printf("\n], \"next\": ");
		if (w.next[0]) {
			json_t *next = json_string(w.next);
			char *text = next ? json_dumps(next, JSON_ENCODE_ANY) : NULL;
			printf("%s", text ? text : "null");
			free(text);
			json_decref(next);
		} else
			printf("null");
		printf("}\n");
	} else if (r == 0 && w.n == 0)
		printf("%s\n", coll_i18n_text(lang, "cli.scores.none"));
	else if (r == 0 && w.next[0])
		printf("%s --after %s\n", coll_i18n_text(lang, "cli.scores.next"), w.next);
	return r < 0 ? failed(s, r) : 0;
}
