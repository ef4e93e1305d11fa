/* Incident texts (texts.h). */
#include <errno.h>
#include <string.h>

#include "collector/service/texts.h"
#include "collector/web/i18n.h"

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

int coll_text_render(const char *key, const char *lang, const char *const *vars, char *buf,
		     size_t size)
{
	const char *t = coll_text(key, lang);
	int r = coll_i18n_fill(t ? t : key, vars, buf, size);
	return r < 0 ? r : t ? 0 : -ENOENT;
}
