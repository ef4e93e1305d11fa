/* The operator's lifecycle commands (cli.h; docs/collector.md "Command
 * line"): API users and enrollment tokens (list, revoke, rotate), customer
 * rename, a host's production flag, and --json for every listing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/cli.h"
#include "erpulse/crypto.h"
#include "erpulse/util.h"

static int64_t now_s(void)
{
	return ep_wall_ms() / 1000;
}

static int fail(struct coll_store *s, const char *what, int r)
{
	if (r == -ENOENT)
		fprintf(stderr, "erpulse-collector: %s: not found\n", what);
	else if (r == -EEXIST)
		fprintf(stderr, "erpulse-collector: %s: matches more than one; give more digits\n",
			what);
	else if (r == -EINVAL)
		fprintf(stderr, "erpulse-collector: %s: expected 8 to 12 hex digits (token list)\n",
			what);
	else
		fprintf(stderr, "erpulse-collector: %s: %s\n", what, s->err);
	return 1;
}

/* Consumes list. */
static int print_json(json_t *list)
{
	char *text = json_dumps(list, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(list);
	if (!text)
		return 1;
	printf("%s\n", text);
	free(text);
	return 0;
}

static const char *str(json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));
	return v ? v : "-";
}

static int user_token(struct coll_store *s, const char *name)
{
	char secret[41], token[48], hash[65];
	ep_random_hex(20, secret, sizeof(secret));
	snprintf(token, sizeof(token), "epa_%s", secret);
	ep_hash_secret(token, hash);
	int r = coll_store_user_rotate(s, name, hash);
	if (r < 0)
		return fail(s, name, r);
	printf("%s\n", token);
	fprintf(stderr, "new API token for %s; shown only now (the old one no longer works)\n",
		name);
	return 0;
}

static int users(struct coll_store *s, int argc, char **argv, bool json)
{
	if (argc == 1 && strcmp(argv[0], "list") == 0) {
		json_t *list = NULL, *u;
		size_t i;
		int r = coll_store_users(s, &list);
		if (r < 0)
			return fail(s, "user list", r);
		if (json)
			return print_json(list);
		printf("%-16s  %-24s  %-7s  %s\n", "ID", "NAME", "ROLE", "CUSTOMER");
		json_array_foreach(list, i, u)
		{
			printf("%-16s  %-24s  %-7s  %s\n", str(u, "id"), str(u, "name"),
			       str(u, "role"), str(u, "customer"));
		}
		json_decref(list);
		return 0;
	}
	if (argc == 2 && strcmp(argv[0], "revoke") == 0) {
		int r = coll_store_user_revoke(s, argv[1]);
		if (r < 0)
			return fail(s, argv[1], r);
		printf("revoked %s\n", argv[1]);
		return 0;
	}
	if (argc == 2 && strcmp(argv[0], "rotate") == 0)
		return user_token(s, argv[1]);
	return -1;
}

static int tokens(struct coll_store *s, int argc, char **argv, bool json)
{
	if (argc == 1 && strcmp(argv[0], "list") == 0) {
		json_t *list = NULL, *t;
		size_t i;
		int r = coll_store_tokens(s, now_s(), &list);
		if (r < 0)
			return fail(s, "token list", r);
		if (json)
			return print_json(list);
		printf("%-12s  %-24s  %9s  %-8s  %s\n", "ID", "CUSTOMER", "USES_LEFT", "STATE",
		       "EXPIRES");
		json_array_foreach(list, i, t)
		{
			char when[32] = "-";
			ep_time_format((time_t)json_integer_value(json_object_get(t, "expires_at")),
				       when, sizeof(when));
			printf("%-12s  %-24s  %9lld  %-8s  %s\n", str(t, "id"), str(t, "customer"),
			       (long long)json_integer_value(json_object_get(t, "uses_left")),
			       str(t, "state"), when);
		}
		json_decref(list);
		return 0;
	}
	if (argc == 2 && strcmp(argv[0], "rotate") == 0) {
		char secret[41], token[48], hash[65];
		ep_random_hex(20, secret, sizeof(secret));
		snprintf(token, sizeof(token), "ept_%s", secret);
		ep_hash_secret(token, hash);
		int r = coll_store_token_rotate(s, argv[1], hash, now_s());
		if (r < 0)
			return fail(s, argv[1], r);
		printf("%s\n", token);
		fprintf(stderr,
			"new enrollment token replacing %s (same customer, uses and "
			"expiry); shown only now\n",
			argv[1]);
		return 0;
	}
	if (argc == 2 && strcmp(argv[0], "revoke") == 0) {
		int r = coll_store_token_revoke(s, argv[1], now_s());
		if (r < 0)
			return fail(s, argv[1], r);
		printf("revoked token %s\n", argv[1]);
		return 0;
	}
	return -1;
}

/* customer list --json, agent list --json */
static int listing(struct coll_store *s, const char *what, bool hosts)
{
	struct coll_scope all = {.customer_id = NULL};
	json_t *list = NULL;
	int r = hosts ? coll_store_agents(s, &all, now_s(), &list)
		      : coll_store_customers(s, &all, &list);
	if (r < 0)
		return fail(s, what, r);
	return print_json(list);
}

int coll_cli_lifecycle(struct coll_store *s, const char *cmd, int argc, char **argv)
{
	bool json = argc > 0 && strcmp(argv[argc - 1], "--json") == 0;
	if (json)
		argc--;
	if (strcmp(cmd, "user") == 0)
		return users(s, argc, argv, json);
	if (strcmp(cmd, "token") == 0)
		return tokens(s, argc, argv, json);
	if (strcmp(cmd, "customer") == 0 && argc == 3 && strcmp(argv[0], "rename") == 0) {
		if (!argv[2][0] || strlen(argv[2]) > 200 ||
		    !ep_utf8_valid(argv[2], strlen(argv[2]))) {
			fprintf(stderr, "erpulse-collector: customer name: 1-200 bytes of UTF-8\n");
			return 2;
		}
		int r = coll_store_customer_rename(s, argv[1], argv[2]);
		if (r < 0)
			return fail(s, argv[1], r);
		printf("renamed %s to %s\n", argv[1], argv[2]);
		return 0;
	}
	if (strcmp(cmd, "customer") == 0 && argc == 1 && strcmp(argv[0], "list") == 0 && json)
		return listing(s, "customer list", false);
	if (strcmp(cmd, "agent") == 0 && argc == 1 && strcmp(argv[0], "list") == 0 && json)
		return listing(s, "agent list", true);
	if (strcmp(cmd, "host") == 0 && argc == 3 && strcmp(argv[0], "production") == 0) {
		bool yes = strcmp(argv[2], "yes") == 0;
		if (!yes && strcmp(argv[2], "no") != 0) {
			fprintf(stderr, "erpulse-collector: host production ID yes|no\n");
			return 2;
		}
		int r = coll_store_agent_production(s, argv[1], yes);
		if (r < 0)
			return fail(s, argv[1], r);
		printf("%s: production %s\n", argv[1], argv[2]);
		return 0;
	}
	if (strcmp(cmd, "host") == 0 && argc == 3 && strcmp(argv[0], "label") == 0) {
		if (strlen(argv[2]) > 200 || !ep_utf8_valid(argv[2], strlen(argv[2]))) {
			fprintf(stderr, "erpulse-collector: a label: up to 200 bytes of UTF-8\n");
			return 2;
		}
		int r = coll_store_agent_label(s, argv[1], argv[2]);
		if (r < 0)
			return fail(s, argv[1], r);
		printf("%s: label '%s'\n", argv[1], argv[2]);
		return 0;
	}
	if ((strcmp(cmd, "host") == 0 || strcmp(cmd, "customer") == 0) && argc == 2 &&
	    strcmp(argv[0], "archive") == 0) {
		int r = strcmp(cmd, "host") == 0 ? coll_store_agent_archive(s, argv[1], now_s())
						 : coll_store_customer_archive(s, argv[1], now_s());
		if (r < 0)
			return fail(s, argv[1], r);
		printf("archived %s (%s)\n", argv[1],
		       strcmp(cmd, "host") == 0 ? "revoked; its history is kept"
						: "its hosts revoked and its tokens used up; the "
						  "history is kept");
		return 0;
	}
	return -1;
}
