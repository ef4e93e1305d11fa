/* Enrollment: a fresh Ed25519 key pair, POST /api/v1/enroll with a one-time
 * token, then the key (0600, owned by the agent user) and the ids in the
 * state. Each way it can fail has its own one-line message. */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent.h"

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	fputs("erpulse-agent: enroll: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int transport_failure(const char *url, const struct agent_http_result *res)
{
	switch (res->cls) {
	case AGENT_HTTP_BAD_URL:
		say("bad collector URL '%s': %s (expected https://HOST[:PORT])", url, res->error);
		break;
	case AGENT_HTTP_DNS:
		say("cannot resolve the collector's host name in '%s': %s (check the URL and DNS)",
		    url, res->error);
		break;
	case AGENT_HTTP_REFUSED:
		say("cannot connect to the collector at '%s': %s (is it running and reachable "
		    "from this host? firewall?)",
		    url, res->error);
		break;
	case AGENT_HTTP_TLS:
		say("TLS verification of the collector at '%s' failed: %s (check ca_file, "
		    "pinned_pubkey, the host name in the URL and the certificate's dates)",
		    url, res->error);
		break;
	case AGENT_HTTP_TIMEOUT:
		say("the collector at '%s' did not answer in time: %s", url, res->error);
		break;
	default:
		say("network error talking to the collector at '%s': %s", url, res->error);
		break;
	}
	return AGENT_EXIT_FAILURE;
}

/* Text from the network, printed as one line without control characters. */
static const char *one_line(const char *in, char *out, size_t size)
{
	size_t i;

	for (i = 0; i < size - 1 && in[i]; i++)
		out[i] = ((unsigned char)in[i] < 0x20 || in[i] == 0x7f) ? ' ' : in[i];
	out[i] = '\0';
	return out;
}

int agent_enroll_refusal(long status, const char *body, size_t len, char *msg, size_t size)
{
	json_t *o = json_loadb(body ? body : "", body ? len : 0, 0, NULL);
	json_t *e = json_object_get(o, "error");
	const char *code = json_string_value(json_object_get(e, "code"));
	const char *m = json_string_value(json_object_get(e, "message"));
	char cbuf[128], mbuf[512];
	int rc = AGENT_EXIT_REFUSED;

	code = one_line(code ? code : "", cbuf, sizeof(cbuf));
	if (m)
		m = one_line(m, mbuf, sizeof(mbuf));
	if (strcmp(code, "token_invalid") == 0)
		ep_snprintf(msg, size,
			    "the collector does not know this enrollment token (mistyped? ask "
			    "vendor support for a new one)");
	else if (strcmp(code, "token_expired") == 0)
		ep_snprintf(msg, size,
			    "the enrollment token has expired (ask vendor support for a new one)");
	else if (strcmp(code, "token_used_up") == 0)
		ep_snprintf(msg, size,
			    "the enrollment token has been used up (ask vendor support for a new "
			    "one)");
	else {
		ep_snprintf(msg, size, "the collector refused the enrollment: HTTP %ld%s%s%s%s",
			    status, code[0] ? " " : "", code, m ? ": " : "", m ? m : "");
		if (status == 429 || status >= 500)
			rc = AGENT_EXIT_FAILURE;
	}
	json_decref(o);
	return rc;
}

static int answer_failure(const struct agent_http_result *res)
{
	char msg[1024];
	int rc = agent_enroll_refusal(res->status, res->body.data, res->body.len, msg, sizeof(msg));

	say("%s", msg);
	return rc;
}

int agent_enroll_answer_parse(const char *body, size_t len, char *agent_id, size_t aid_size,
			      char *customer_id, size_t cid_size)
{
	json_t *ans = json_loadb(body ? body : "", body ? len : 0, 0, NULL);
	const char *aid = json_string_value(json_object_get(ans, "agent_id"));
	const char *cid = json_string_value(json_object_get(ans, "customer_id"));
	int r = -EBADMSG;

	if (!aid || !*aid || strlen(aid) >= aid_size || strchr(aid, '/') || !cid)
		goto out;
	/* it goes into an HTTP header, file names and the log: no control
	 * characters (a CR LF would add a header) */
	for (const char *p = aid; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			goto out;
	ep_snprintf(agent_id, aid_size, "%s", aid);
	ep_snprintf(customer_id, cid_size, "%s", cid);
	r = 0;
out:
	json_decref(ans);
	return r;
}

static void chown_to_user(const struct agent_conf *conf, const char *path)
{
	struct passwd *pw;

	if (geteuid() != 0 || conf->allow_root)
		return;
	pw = getpwnam(conf->user);
	if (pw && chown(path, pw->pw_uid, pw->pw_gid) != 0)
		fprintf(stderr, "erpulse-agent: enroll: warning: cannot chown '%s' to %s: %s\n",
			path, conf->user, strerror(errno));
}

/* Reports of a previous enrollment carry the old agent id and signature: the
 * new agent cannot deliver them. They are kept in quarantine for a human. */
static void quarantine_old_spool(const struct agent_conf *conf)
{
	char spool[4096], path[4096];
	int64_t seqs[64];
	size_t n;
	int total = 0;

	agent_spool_dir(conf->state_dir, spool, sizeof(spool));
	while (agent_spool_oldest(spool, seqs, 64, &n) == 0 && n > 0) {
		for (size_t i = 0; i < n; i++) {
			agent_spool_path(spool, seqs[i], path, sizeof(path));
			if (agent_spool_quarantine(spool, path) < 0 && unlink(path) < 0)
				return;
			total++;
		}
	}
	if (total)
		fprintf(stderr,
			"erpulse-agent: enroll: %d report(s) of the previous enrollment moved to "
			"%s/quarantine\n",
			total, spool);
}

int agent_enroll(struct agent_conf *conf, const char *url, const char *token, bool force)
{
	char keypath[4096], newkey[4096], endpoint[2048], host[256] = "", err[1024] = "";
	char pub[EP_PUBLIC_KEY_B64_SIZE], spool[4096];
	struct agent_http_opts opts = {.ca_file = conf->ca_file,
				       .pinned_pubkey = conf->pinned_pubkey,
				       .proxy = conf->proxy};
	struct agent_http_result res = {0};
	struct agent_state st;
	struct ep_keypair kp;
	json_t *req = NULL;
	char *body = NULL;
	char aid[sizeof(st.agent_id)], cid[sizeof(st.customer_id)];
	int rc = AGENT_EXIT_FAILURE, r, lockfd = -1;

	memset(&kp, 0, sizeof(kp));
	if (!url || !*url) {
		say("no collector URL: pass --collector https://HOST:PORT or set [agent] "
		    "collector");
		return AGENT_EXIT_USAGE;
	}
	if (strncmp(url, "https://", 8) != 0) {
		say("bad collector URL '%s': it must start with https://", url);
		return AGENT_EXIT_USAGE;
	}
	if (!token || !*token) {
		say("no token: pass --token TOKEN (vendor support creates it)");
		return AGENT_EXIT_USAGE;
	}
	r = agent_state_load(conf->state_dir, &st, err, sizeof(err));
	if (r < 0) {
		say("%s", err);
		return AGENT_EXIT_FAILURE;
	}
	if (agent_state_enrolled(&st) && !force) {
		say("already enrolled as agent %s with %s; use --force to enroll again (a new "
		    "key and agent id)",
		    st.agent_id, st.collector);
		agent_state_free(&st);
		return AGENT_EXIT_FAILURE;
	}
	r = ep_mkdir_p(conf->state_dir, 0750);
	if (r < 0) {
		say("cannot create the state directory '%s': %s", conf->state_dir, strerror(-r));
		goto out;
	}
	chown_to_user(conf, conf->state_dir);
	lockfd = agent_lock_state(conf->state_dir, err, sizeof(err));
	if (lockfd < 0) {
		say("%s: stop it first (systemctl stop erpulse-agent)", err);
		goto out;
	}
	ep_snprintf(keypath, sizeof(keypath), "%s/agent.key", conf->state_dir);
	ep_snprintf(newkey, sizeof(newkey), "%s/agent.key.new", conf->state_dir);
	if (ep_key_generate(&kp) < 0) {
		say("cannot generate a key pair");
		goto out;
	}
	r = ep_key_save(newkey, &kp);
	if (r < 0) {
		say("cannot write the key '%s': %s", newkey, strerror(-r));
		goto out;
	}
	ep_base64_encode(kp.public_key, sizeof(kp.public_key), pub, sizeof(pub));
	gethostname(host, sizeof(host) - 1);
	req = json_pack("{s:s, s:s, s:s, s:s}", "token", token, "hostname", host, "public_key", pub,
			"agent_version", EP_VERSION);
	body = req ? json_dumps(req, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	if (!body) {
		say("out of memory");
		goto out_unlink;
	}
	agent_endpoint(url, "/api/v1/enroll", endpoint, sizeof(endpoint));
	r = agent_http_post(endpoint, NULL, body, strlen(body), &opts, &res);
	if (r < 0) {
		say("out of memory");
		goto out_unlink;
	}
	if (res.cls != AGENT_HTTP_OK) {
		rc = transport_failure(url, &res);
		goto out_unlink;
	}
	if (res.status != 201 && res.status != 200) {
		rc = answer_failure(&res);
		goto out_unlink;
	}
	if (agent_enroll_answer_parse(res.body.data, res.body.len, aid, sizeof(aid), cid,
				      sizeof(cid)) < 0) {
		say("the collector at '%s' gave an answer without a valid agent_id/customer_id "
		    "(is this an erpulse collector?)",
		    url);
		goto out_unlink;
	}
	if (rename(newkey, keypath) != 0) {
		say("cannot install the key '%s': %s", keypath, strerror(errno));
		goto out_unlink;
	}
	ep_fsync_dir(conf->state_dir);
	chown_to_user(conf, keypath);
	if (force)
		quarantine_old_spool(conf);
	ep_snprintf(st.agent_id, sizeof(st.agent_id), "%s", aid);
	ep_snprintf(st.customer_id, sizeof(st.customer_id), "%s", cid);
	ep_snprintf(st.collector, sizeof(st.collector), "%s", url);
	st.next_seq = 1;
	st.dropped = 0;
	st.dropped_total = 0;
	agent_state_forget_builds(&st);
	st.last_push[0] = '\0';
	r = agent_state_save(conf->state_dir, &st);
	if (r < 0) {
		say("enrolled as %s but cannot save the state in '%s': %s", aid, conf->state_dir,
		    strerror(-r));
		goto out;
	}
	{
		char path[4096];
		ep_snprintf(path, sizeof(path), "%s/state", conf->state_dir);
		chown_to_user(conf, path);
		ep_snprintf(path, sizeof(path), "%s/lock", conf->state_dir);
		chown_to_user(conf, path);
		agent_spool_dir(conf->state_dir, spool, sizeof(spool));
		if (ep_mkdir_p(spool, 0700) == 0)
			chown_to_user(conf, spool);
	}
	printf("enrolled: agent %s, customer %s, collector %s\n", aid, cid, url);
	rc = AGENT_EXIT_OK;
	goto out;
out_unlink:
	unlink(newkey);
out:
	if (lockfd >= 0)
		close(lockfd);
	ep_key_wipe(&kp);
	json_decref(req);
	free(body);
	ep_buf_free(&res.body);
	agent_state_free(&st);
	return rc;
}
