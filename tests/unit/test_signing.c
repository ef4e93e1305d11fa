/* DingTalk and Feishu robot signatures (collector/notify/sign.h), checked
 * against vectors computed with the services' published Python samples:
 * DingTalk hmac(secret, "ts\nsecret") with ms, Feishu hmac("ts\nsecret", "")
 * with seconds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include <math.h>

#include "collector/notify/channels.h"
#include "collector/notify/sign.h"
#include "erpulse/config.h"
#include "erpulse/crypto.h"

#define SECRET "SECtestsecret123"

static void test_dingtalk(void **state)
{
	(void)state;
	char sign[COLL_SIGN_B64_SIZE];
	coll_dingtalk_sign(SECRET, 1700000000000LL, sign);
	assert_string_equal(sign, "Y4At+TruAh3C4rXZwD748s2rqrapbJWKRagqLANB690=");

	char *url = coll_dingtalk_signed_url(
		"https://oapi.dingtalk.com/robot/send?access_token=abc", SECRET, 1700000000000LL);
	assert_non_null(url);
	assert_string_equal(url, "https://oapi.dingtalk.com/robot/send?access_token=abc"
				 "&timestamp=1700000000000"
				 "&sign=Y4At%2BTruAh3C4rXZwD748s2rqrapbJWKRagqLANB690%3D");
	free(url);
	url = coll_dingtalk_signed_url("http://127.0.0.1:1/hook", SECRET, 5);
	assert_non_null(url);
	assert_non_null(strstr(url, "/hook?timestamp=5&sign="));
	free(url);
	/* another timestamp, another signature */
	char other[COLL_SIGN_B64_SIZE];
	coll_dingtalk_sign(SECRET, 1700000000001LL, other);
	assert_string_not_equal(sign, other);
}

static void test_feishu(void **state)
{
	(void)state;
	char sign[COLL_SIGN_B64_SIZE];
	coll_feishu_sign(SECRET, 1700000000, sign);
	assert_string_equal(sign, "aenJ//hP7BgDv67coLzdQsGBfV7JiDmLbOhKGhNAgnQ=");

	char *text = coll_feishu_signed_text("{\"msg_type\":\"text\",\"content\":{\"text\":\"x\"}}",
					     SECRET, 1700000000);
	assert_non_null(text);
	json_t *o = json_loads(text, 0, NULL);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "timestamp")), "1700000000");
	assert_string_equal(json_string_value(json_object_get(o, "sign")), sign);
	assert_string_equal(json_string_value(json_object_get(o, "msg_type")), "text");
	json_decref(o);
	free(text);
	assert_null(coll_feishu_signed_text("[1]", SECRET, 1));
	assert_null(coll_feishu_signed_text("not json", SECRET, 1));
}

static void test_url_encode(void **state)
{
	(void)state;
	char out[64];
	assert_int_equal(coll_url_encode("a+b/c=d~e_f.g-h", out, sizeof(out)), 0);
	assert_string_equal(out, "a%2Bb%2Fc%3Dd~e_f.g-h");
	assert_int_equal(coll_url_encode("\xe4\xb8\xad", out, sizeof(out)), 0);
	assert_string_equal(out, "%E4%B8%AD");
	assert_int_equal(coll_url_encode("++++", out, 5), -ENOSPC);
	assert_string_equal(out, "");
}

/* [channel.*] and [route.*] (collector/notify/channels.h): loading, the
 * errors it names, rendering an incident notice per channel. */
static int load(const char *text, struct coll_channels *ret, char *err, size_t errlen)
{
	struct ep_config *cfg;
	assert_int_equal(ep_config_load_string(text, strlen(text), "c.conf", &cfg, err, errlen), 0);
	int r = coll_channels_load(cfg, ret, err, errlen);
	ep_config_free(cfg);
	return r;
}

static void test_channels(void **state)
{
	(void)state;
	struct coll_channels cs;
	char err[512];
	const char *ok =
		"[channel.ding]\ntype = dingtalk\nurl = https://oapi.dingtalk.com/robot/"
		"send?access_token=x\nsecret = SECx\nlanguage = zh-CN\n"
		"[channel.hook]\ntype = generic\nurl = https://hooks.example/x\n"
		"[channel.mail]\ntype = email\nto = a@b.example\n"
		"[route.big]\ncustomer = Acme\nseverity = critical\nchannels = hook mail\n";
	assert_int_equal(load(ok, &cs, err, sizeof(err)), 0);
	assert_int_equal(cs.n, 3);
	assert_int_equal(cs.n_routes, 1);
	const struct coll_channel *ding = coll_channel_find(&cs, "ding"),
				  *hook = coll_channel_find(&cs, "hook");
	assert_non_null(ding);
	assert_string_equal(ding->lang, "zh-CN");
	assert_null(coll_channel_find(&cs, "nope"));

	char customer[] = "Acme", host[] = "erp01", rule[] = "index_fragmentation",
	     object[] = "odoo/public.x_idx", sev[] = "critical", tier[] = "gold", cid[] = "c1";
	struct coll_incident_notice n = {
		.incident_id = 7,
		.event = "escalate_l2",
		.level = 2,
		.customer_id = cid,
		.customer = customer,
		.hostname = host,
		.rule = rule,
		.object = object,
		.severity = sev,
		.tier = tier,
		.before = 55,
		.after = NAN,
		.target_s = 1800,
		.at = 1700000000,
	};
	char *body;
	assert_int_equal(coll_channel_render(&cs, hook, &n, &body), 0);
	json_t *o = json_loads(body, 0, NULL);
	assert_non_null(o);
	json_t *inc = json_object_get(o, "incident");
	assert_int_equal(json_integer_value(json_object_get(inc, "id")), 7);
	assert_string_equal(json_string_value(json_object_get(inc, "event")), "escalate_l2");
	assert_int_equal(json_integer_value(json_object_get(inc, "level")), 2);
	assert_string_equal(json_string_value(json_object_get(o, "message")),
			    "Incident #7 escalated to L2: index_fragmentation on erp01 not "
			    "acknowledged within 30 min");
	json_decref(o);
	free(body);
	assert_int_equal(coll_channel_render(&cs, ding, &n, &body), 0);
	assert_non_null(strstr(body, "已升级至 L2"));
	assert_null(strstr(body, "\"sign\"")); /* signed at send time, not in the outbox */
	free(body);
	coll_channels_free(&cs);

	static const struct {
		const char *conf, *err;
	} bad[] = {
		{"[channel.x]\nurl = https://a/\n",
		 "c.conf:1: [channel.x] type: required: generic, dingtalk, wecom, feishu, slack or "
		 "email"},
		{"[channel.x]\ntype = telegram\nurl = https://a/\n",
		 "c.conf:1: [channel.x] type: not generic, dingtalk, wecom, feishu, slack or "
		 "email"},
		{"[channel.x]\ntype = generic\n",
		 "c.conf:1: [channel.x] url: a webhook channel needs a URL"},
		{"[channel.x]\ntype = generic\nurl = ftp://a/\n",
		 "c.conf:1: [channel.x] url: http:// or https:// only"},
		{"[channel.x]\ntype = slack\nurl = https://a/\nsecret = s\n",
		 "c.conf:1: [channel.x] secret: only DingTalk and Feishu robots sign"},
		{"[channel.x]\ntype = email\n",
		 "c.conf:1: [channel.x] to: an email channel needs recipients"},
		{"[channel.x]\ntype = generic\nurl = https://a/\nlanguage = fr\n",
		 "c.conf:1: [channel.x] language: en or zh-CN"},
		{"[route.r]\nchannels = ghost\n",
		 "c.conf:1: [route.r] channels: no [channel.ghost] section"},
		{"[route.r]\ncustomer = Acme\n",
		 "c.conf:1: [route.r] channels: required: the channel names to notify"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(load(bad[i].conf, &cs, err, sizeof(err)), -EINVAL);
		assert_string_equal(err, bad[i].err);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dingtalk),
		cmocka_unit_test(test_feishu),
		cmocka_unit_test(test_url_encode),
		cmocka_unit_test(test_channels),
	};
	ep_crypto_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
