#!/bin/bash
# The dashboard in real Chromium, in English and Chinese, over a fixture
# history of 30 days (dashboard-fixture.py): the vendor's fleet (triage,
# hosts with a customer column and score sparklines), a host page whose
# charts carry exactly the history API's values, a customer viewer's own
# page (band, trend, a rating per category, open risks, what was fixed this
# month with before and after) that never shows
# another customer; the CSP holds (uPlot runs, no violation is reported, no
# inline script or handler appears in the rendered DOM).
# DASH_SCREENSHOTS=DIR also saves a PNG of every view (docs/screenshots/).
. "$(dirname "$0")/dashboard-lib.sh"
dash_fixture

browse() { # MODE OUT URL: chromium --dump-dom or --screenshot
	local ud
	ud=$(mktemp -d "$T/chromium.XXXXXX")
	HOME=$ud timeout 90 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-background-networking \
		--disable-component-update --disable-sync --no-first-run --disable-dev-shm-usage \
		--user-data-dir="$ud" --window-size=1280,2400 --hide-scrollbars --enable-logging=stderr \
		--virtual-time-budget=15000 "$1" "$3" >"$2" 2>"$T/chromium.log"
	rm -rf "$ud"
}
# render NAME URL: the DOM in $T/NAME.dom (and NAME.png into DASH_SCREENSHOTS)
render() {
	browse --dump-dom "$T/$1.dom" "$2"
	cp "$T/chromium.log" "$T/$1.log"
	if [ -n "${DASH_SCREENSHOTS:-}" ]; then
		browse --screenshot="$DASH_SCREENSHOTS/$1.png" /dev/null "$2"
	fi
}
dom_like() { # NAME DESCRIPTION REGEX
	if tr -d '\n' <"$T/$1.dom" | grep -qE -- "$3"; then tap_ok "$2"; else
		tap_fail "$2"
		echo "#   $1.dom ($(wc -c <"$T/$1.dom") bytes) does not match /$3/"
		grep -v 'dbus' "$T/$1.log" | tail -5 | sed 's/^/#   /'
	fi
}
dom_count() { tr -d '\n' <"$T/$1.dom" | grep -oE -- "$2" | wc -l; }
# the CSP held: no violation reported, no inline script or handler in the DOM
csp_held() { # NAME
	tap_is "$1: no CSP or Trusted Types violation" "$(grep -ci 'Content Security Policy\|Trusted Type\|integrity' "$T/$1.log")" "0"
	tap_is "$1: no inline handler or extra script in the rendered DOM" \
		"$(dom_count "$1" '<[a-z]+ [^>]*\bon[a-z]+=|<script[^>]*>[^<]')" "1"
}
# chart NAME TITLE: that chart's data-series (the values it was given) as JSON
chart() {
	/usr/bin/python3 - "$T/$1.dom" "$2" <<'PY'
import html, json, re, sys
dom = open(sys.argv[1], encoding="utf-8").read()
for m in re.finditer(r'<div class="chart"([^>]*)><h3>([^<]*)</h3>', dom):
    if html.unescape(m.group(2)) == sys.argv[2]:
        attrs = dict(re.findall(r'([a-z-]+)="([^"]*)"', m.group(1)))
        print(json.dumps({"drawn": attrs.get("data-drawn"), "series": json.loads(html.unescape(attrs["data-series"]))}))
        break
PY
}
api() { curl -s -H "Authorization: Bearer $1" "$COLL_URL/api/v1/$2"; }

for L in en zh-CN; do
	render "fleet-$L" "$COLL_URL/#lang=$L&token=$VENDOR"
	render "host-$L" "$COLL_URL/hosts/$A#lang=$L&token=$VENDOR"
	render "portal-$L" "$COLL_URL/#lang=$L&token=$ACME"
done

# ---- vendor: fleet --------------------------------------------------------------------------
dom_like fleet-en "fleet (en): triage first, with a customer column" 'id="triage-card".*>Customer</th><th[^>]*>Host</th>.*<span class="sev critical">critical</span></td><td data-label="Customer">Acme</td>'
dom_like fleet-en "fleet (en): hosts with customer, sortable headers, pager" 'data-sort="customer"[^>]*>Customer</th>.*Page 1 of 1'
dom_like fleet-en "fleet (en): a score sparkline per host, from the history" 'data-spark="h:'"$A"'"><svg[^>]*class="spark [a-z_]+"[^>]*data-values="\['
dom_like fleet-en "fleet (en): customers with score, tier, trend, open alerts and incidents" '<span class="name">Acme</span><span class="tier" data-tier="gold">Gold</span><span class="muted">2 hosts</span><span data-spark="c:[0-9a-f]+"><svg[^>]*data-values="\[[^>]*>.*</svg></span><strong>1 open alerts</strong><strong class="incs">1 open incidents</strong>'
dom_like fleet-en "fleet (en): the other customer's default tier" '<span class="name">Other</span><span class="tier" data-tier="standard">Standard</span>'
dom_like fleet-zh-CN "fleet (zh-CN): tiers in Chinese" '<span class="name">Acme</span><span class="tier" data-tier="gold">金牌</span>.*1 个未结事件'
dom_like fleet-zh-CN "fleet (zh-CN): the page is in Chinese" '<html lang="zh-CN".*分诊：按严重程度和时长排列的未关闭告警.*<span class="sev critical">严重</span>'
dom_like fleet-zh-CN "fleet (zh-CN): band chips and headers in Chinese" '健康.*<th class="sort"[^>]*>客户</th>'
csp_held fleet-en
csp_held fleet-zh-CN
# the incidents' triage queue (standard tier by default): by time to breach, with state and level
dom_like fleet-en "fleet (en): open incidents by time to breach, first" \
	'id="incidents-title"[^>]*>Triage: open incidents by time to breach</h2><div class="scroll" id="incidents-box"><table.*<td data-label="Breach"><span[^>]*>[^<]+</span></td><td data-label="Severity"><span class="sev critical">critical</span>.*<td data-label="Incident">open</td><td data-label="Level">L1</td>'
dom_like fleet-zh-CN "fleet (zh-CN): the incidents' queue in Chinese" '分诊：按距违约时间排列的未结事件.*<td data-label="事件">未处理</td>'

# ---- vendor: host page and its charts ---------------------------------------------------
dom_like host-en "host (en): the charts are drawn by uPlot" 'class="uplot'
for title in "Score" "File system usage (%) and forecast" "Worst indexes: wasted %" "Pending security updates" "Score by category"; do
	j=$(chart host-en "$title")
	tap_like "host (en): chart \"$title\" is drawn with data" "$j" '^\{"drawn": "1", "series": \[\{"label"'
done
query() { tr -d '\n' <"$T/$1.dom" | grep -oE 'data-query="[^"]*"' | head -n1 | sed 's/^data-query="//; s/"$//; s/&amp;/\&/g'; }
tap_like "host (en): the charts' query" "$(query host-en)" "^hosts/$A/series\?from=[0-9]+&to=[0-9]+&names=score,"
# same(NAME TITLE SERIES): the chart's line equals the API's series (values
# and times) for the query the page made
same() {
	api "$VENDOR" "$(query "$1")" >"$T/want.json"
	chart "$1" "$2" >"$T/got.json"
	/usr/bin/python3 - "$T/got.json" "$T/want.json" "$3" <<'PY'
import json, sys
got = json.load(open(sys.argv[1]))["series"]
want = {s["name"]: s for s in json.load(open(sys.argv[2]))["series"]}[sys.argv[3]]
line = got[0]
print("same" if line["t"] == want["t"] and [float(v) for v in line["v"]] == want["v"] and len(want["v"]) > 0
      else "differs: %r vs %r" % (line["v"][-5:], want["v"][-5:]))
PY
}
tap_is "host (en): the score chart shows the history API's values (the fixture)" "$(same host-en Score score)" "same"
tap_is "... 30 days of them" "$(chart host-en Score | json_get - 'len(j["series"][0]["v"]) >= 700')" "True"
tap_is "host (en): the worst index's wasted % as the API gives it" \
	"$(same host-en 'Worst indexes: wasted %' index_fragmentation:odoo/public.sale_order_line_order_id_idx)" "same"
tap_is "... with the 30% line" "$(chart host-en 'Worst indexes: wasted %' | json_get - 'j["series"][1]["label"], j["series"][1]["v"]')" "('30% line', [30, 30])"
tap_is "host (en): the file system's usage" "$(same host-en 'File system usage (%) and forecast' disk_usage:/)" "same"
tap_is "host (en): pending security updates" "$(same host-en 'Pending security updates' security_updates:host)" "same"
dom_like host-en "host (en): rendered to the end (forecasts, probes, findings)" '>Forecasts<.*already over 30 %.*>Probes<.*<strong>postgres</strong>.*>Findings<.*>Index fragmentation '
dom_like host-zh-CN "host (zh-CN): rendered to the end, tables in Chinese" '>预测<.*已超过 30 %.*>探针<.*<th>目标</th>.*<strong>postgres</strong>.*>发现<.*>索引碎片 '
dom_like host-zh-CN "host (zh-CN): charts titled in Chinese" '<h3>评分</h3>.*<h3>最差索引：浪费 %</h3>'
dom_like host-zh-CN "host (zh-CN): the finding kind's title and explanation in Chinese" '索引碎片.*索引叶子页中有这一比例的空间被浪费'
tap_is "host (zh-CN): the score chart shows the API's values too" "$(same host-zh-CN 评分 score)" "same"
csp_held host-en
csp_held host-zh-CN

# ---- customer viewer: its own page -------------------------------------------------------
dom_like portal-en "portal (en): the customer's page with its band" '<div class="portalhead"><span class="score [a-z_]+ big"[^>]*>[0-9]+</span><div><h1>Acme</h1>'
dom_like portal-en "portal (en): a rating per category with why" 'data-rating="database:(red|yellow)".*lost: .*data-rating="liveness:green"'
dom_like portal-en "portal (en): open risks with remediation" 'Open risks.*REINDEX INDEX CONCURRENTLY'
tap_is "portal (en): the customer's score trend from the fixture" \
	"$(chart portal-en Score | json_get - 'len(j["series"][0]["v"]) >= 700 and j["drawn"] == "1"')" "True"
tap_is "portal (en): no other customer's host" "$(grep -c 'other-db' "$T/portal-en.dom")" "0"
dom_like portal-en "portal (en): each open risk with its repair progress (incident state)" 'Open risks.*REINDEX INDEX CONCURRENTLY.*Repair: open'
dom_like portal-zh-CN "portal (zh-CN): repair progress in Chinese" '未解决的风险.*修复进度: 未处理'
dom_like portal-zh-CN "portal (zh-CN): in Chinese" '各领域评级.*数据库 · (差|需关注).*未解决的风险'
dom_like portal-en "portal (en): adoption and customer health beside the ratings" \
	'id="adoption-card".*Adoption and customer health.*data-adoption="[^"]+".*data-health="[0-9]+:(healthy|at_risk|churn_warning)".*Technical risk score: [0-9]+ \(weight 40\).*Rating per area'
dom_like portal-zh-CN "portal (zh-CN): adoption card in Chinese" '采用度与客户健康.*客户健康度.*技术风险评分'
dom_like portal-en "portal (en): fixed this month, with before and after (verified by a report)" \
	'id="fixed-card"><h2>Fixed this month<span class="aside">verified by a later report</span></h2>.*data-fixed="index_fragmentation:odoo/public.stock_move_idx:62.5:4.5".*Index fragmentation · <span class="mono">odoo/public.stock_move_idx</span> · erp-test-01.*before 62.5 → after 4.5.*Fixed: <span title="[^"]+">'
dom_like portal-zh-CN "portal (zh-CN): fixed this month in Chinese" \
	'id="fixed-card"><h2>本月已修复<span class="aside">经后续报告复测确认</span></h2>.*索引碎片 · <span class="mono">odoo/public.stock_move_idx</span>.*修复前 62.5 → 修复后 4.5.*修复于: '
browse --dump-dom "$T/portal-other.dom" "$COLL_URL/#lang=en&token=$OTHER"
cp "$T/chromium.log" "$T/portal-other.log"
dom_like portal-other "portal (en): a customer with no fix this month sees the empty state, not Acme's" \
	'id="fixed-card"><h2>Fixed this month<span class="aside">[^<]*</span></h2><div class="deductions"><p class="empty">Nothing fixed yet this month.</p></div>'
tap_is "... and none of Acme's fixes" "$(grep -c 'stock_move_idx' "$T/portal-other.dom")" "0"
csp_held portal-en
csp_held portal-zh-CN

# ---- scope: another customer's host page, series and portal --------------------------------
render scope "$COLL_URL/hosts/$A#lang=en&token=$OTHER"
dom_like scope "a viewer opening another customer's host page sees 'not available'" 'Host not available.*No such host, or it belongs to a customer'
tap_is "... and its charts' API answers 404" "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $OTHER" "$COLL_URL/api/v1/hosts/$A/series?names=score")" "404"
CA=$(coll_sql "$DB" "SELECT id FROM customers WHERE name = 'Acme'")
tap_is "... and another customer's portal series 404" "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $OTHER" "$COLL_URL/api/v1/customers/$CA/series?names=score")" "404"
tap_is "... no Acme data reached the page" "$(grep -c 'erp-prod-01\|sale_order_line' "$T/scope.dom")" "0"
tap_check "the collector is still running" kill -0 "$COLL_PID"
tap_done
