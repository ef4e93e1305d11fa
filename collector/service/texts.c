/* Incident texts (texts.h). */
#include <errno.h>
#include <string.h>

#include "collector/service/texts.h"

struct text {
	const char *key, *en, *zh;
};

static const struct text texts[] = {
	{"incident.opened", "Incident #{id} opened: {rule} on {host} ({object})",
	 "事件 #{id} 已创建：{host} 上的 {rule}（{object}）"},
	{"incident.acknowledged", "Incident #{id} acknowledged by {actor}",
	 "事件 #{id} 已由 {actor} 确认"},
	{"incident.escalated",
	 "Incident #{id} escalated to {level}: {rule} on {host} not acknowledged within {target}",
	 "事件 #{id} 已升级至 {level}：{host} 上的 {rule} 在 {target} 内未确认"},
	{"incident.response_warning",
	 "Incident #{id}: 80% of the response target ({target}) used, not yet acknowledged",
	 "事件 #{id}：响应时限（{target}）已用去 80%，尚未确认"},
	{"incident.response_breach", "Incident #{id}: response target ({target}) missed",
	 "事件 #{id}：已超出响应时限（{target}）"},
	{"incident.resolution_warning",
	 "Incident #{id}: 80% of the resolution target ({target}) used",
	 "事件 #{id}：解决时限（{target}）已用去 80%"},
	{"incident.resolution_breach", "Incident #{id}: resolution target ({target}) missed",
	 "事件 #{id}：已超出解决时限（{target}）"},
	{"incident.resolved_verified",
	 "Incident #{id} resolved, verified by report {report}: {before} -> {after}",
	 "事件 #{id} 已解决，经报告 {report} 复测确认：{before} → {after}"},
	{"incident.resolved", "Incident #{id} resolved by {actor}", "事件 #{id} 已由 {actor} 解决"},
	{"incident.closed", "Incident #{id} closed by {actor}: {reason}",
	 "事件 #{id} 已由 {actor} 关闭：{reason}"},
	{"incident.reopened", "Incident #{id} reopened: {rule} on {host} came back",
	 "事件 #{id} 已重新打开：{host} 上的 {rule} 再次出现"},
	{"notify.test", "erpulse test notice to channel {channel}",
	 "erpulse 测试通知：通道 {channel}"},
};

static const struct text *find(const char *key)
{
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		if (strcmp(texts[i].key, key) == 0)
			return &texts[i];
	return NULL;
}

const char *coll_text(const char *key, const char *lang)
{
	const struct text *t = find(key);
	if (!t)
		return NULL;
	if (lang && (strcmp(lang, "zh-CN") == 0 || strcmp(lang, "zh") == 0))
		return t->zh;
	return t->en;
}

size_t coll_text_count(void)
{
	return sizeof(texts) / sizeof(texts[0]);
}

const char *coll_text_key(size_t i)
{
	return i < coll_text_count() ? texts[i].key : NULL;
}

static const char *var(const char *const *vars, const char *name, size_t len)
{
	for (size_t i = 0; vars && vars[i] && vars[i + 1]; i += 2)
		if (strlen(vars[i]) == len && memcmp(vars[i], name, len) == 0)
			return vars[i + 1];
	return NULL;
}

int coll_text_render(const char *key, const char *lang, const char *const *vars, char *buf,
		     size_t size)
{
	const char *t = coll_text(key, lang);
	size_t o = 0;
	int r = 0;
	if (size == 0)
		return -ENOSPC;
	if (!t) {
		t = key;
		r = -ENOENT;
	}
	for (const char *p = t; *p;) {
		const char *v = NULL, *close = NULL;
		size_t vlen;
		if (*p == '{' && (close = strchr(p, '}')) &&
		    (v = var(vars, p + 1, (size_t)(close - p - 1)))) {
			vlen = strlen(v);
			p = close + 1;
		} else {
			v = p++;
			vlen = 1;
		}
		if (o + vlen >= size) {
			memcpy(buf + o, v, size - 1 - o);
			buf[size - 1] = '\0';
			return -ENOSPC;
		}
		memcpy(buf + o, v, vlen);
		o += vlen;
	}
	buf[o] = '\0';
	return r;
}
