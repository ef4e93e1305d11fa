#!/bin/bash
# Notices in the channel's language (docs/alerts.md "Languages"): the
# default webhook with `[alerts] language = zh-CN` and a zh-CN named channel
# receive Chinese text (title, the finding kind's title, the field labels)
# at a real local receiver; an English channel of the same incident gets
# English. Texts come from the catalogs (collector/web/i18n/).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/40-collector-ingest.sh"

PY=/usr/bin/python3
WPORT=$(free_port) HOOK=$T/received
mkdir -p "$HOOK"
# receiver: each body to HOOK/<path>-N.json, complete when it appears
$PY - "$HOOK" "$WPORT" >"$T/receiver.log" 2>&1 <<'PY' &
import http.server, os, sys, threading
d, port, n, lock = sys.argv[1], int(sys.argv[2]), [0], threading.Lock()
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with lock:
            n[0] += 1
            k = n[0]
        name = self.path.strip("/").split("?")[0]
        with open(os.path.join(d, "%s-%03d.tmp" % (name, k)), "wb") as f:
            f.write(body)
        os.rename(os.path.join(d, "%s-%03d.tmp" % (name, k)), os.path.join(d, "%s-%03d.json" % (name, k)))
        self.send_response(200); self.send_header("Content-Type", "application/json"); self.end_headers()
        self.wfile.write(b'{"errcode":0,"errmsg":"ok"}')
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
PY
WPID=$!
on_exit "kill $WPID"
wait_for 5 port_open "$WPORT" || bail "webhook receiver did not start"

H="http://127.0.0.1:$WPORT"
coll_start n1 "[alerts]" "webhook_url = $H/alerts" "webhook_format = dingtalk" "language = zh-CN" \
	"allow_private_targets = yes" \
	"[tier.gold]" "escalation_l1 = zh en" \
	"[channel.zh]" "type = wecom" "url = $H/zh" "language = zh-CN" \
	"[channel.en]" "type = dingtalk" "url = $H/en" ||
	bail "collector did not start"
A=$(coll_enroll Acme "$T/k" erp01) && [ -n "$A" ] || bail "enroll"
coll_cli customer tier Acme gold >/dev/null 2>&1 || bail "tier"
tap_unlike() { # tap_unlike NAME TEXT ERE
	if printf '%s' "$2" | grep -qE "$3"; then tap_check "$1" false; else tap_check "$1" true; fi
}
got() { ls "$HOOK"/$1-*.json 2>/dev/null | head -1; }
have() { [ -n "$(got "$1")" ]; }
frag() { echo "[{\"kind\":\"index_fragmentation\",\"object\":\"odoo/public.so_idx\",\"value\":$1,\"unit\":\"%\",\"threshold\":30,\"critical_threshold\":50,\"severity\":\"$2\",\"method\":\"pgstatindex\",\"message\":\"wasted leaf space\",\"remediation\":\"REINDEX INDEX CONCURRENTLY public.so_idx;\",\"pages\":5000}]"; }

coll_report "$A" 1 "$(frag 55 critical)" >"$T/r1"
coll_send "$T/k" "$A" "$T/r1" | grep -q '^200 .*accepted' || bail "report 1"
wait_for 10 have alerts
wait_for 10 have zh
wait_for 10 have en
f=$(got alerts)
title=$(json_get "$f" 'j["markdown"]["title"]')
text=$(json_get "$f" 'j["markdown"]["text"]')
tap_like "[alerts] language = zh-CN: the DingTalk title in Chinese" "$title" '^\[严重\] erp01：odoo/public.so_idx 的索引碎片已触发（55.0 ?%）$'
tap_like "  field labels in Chinese" "$text" '\*\*客户:\*\* Acme'
tap_like "  host label in Chinese" "$text" '\*\*主机:\*\* erp01'
tap_like "  severity and state as words" "$text" '\*\*级别:\*\* 严重'
tap_unlike "  no English label left" "$text" '\*\*(Host|Customer|Severity):'
tap_like "  the remediation from the zh-CN catalog" "$text" '\*\*修复方法:\*\* .'

zh=$(json_get "$(got zh)" 'j["markdown"]["content"]')
tap_like "channel zh (WeCom, language = zh-CN): Chinese title" "$zh" '^### \[严重\] erp01：'
tap_like "  Chinese labels" "$zh" '\*\*主机:\*\* erp01'
tap_like "  Chinese incident text with the finding kind's title" "$zh" '事件 #[0-9]+ 已创建：erp01 上的 ?索引碎片（odoo/public.so_idx）'
en=$(json_get "$(got en)" 'j["markdown"]["text"]')
tap_like "channel en (DingTalk, default language): English title" \
	"$(json_get "$(got en)" 'j["markdown"]["title"]')" '^\[CRITICAL\] erp01: index_fragmentation raised on odoo/public.so_idx'
tap_like "  English labels" "$en" '\*\*Host:\*\* erp01'
tap_unlike "  no Chinese in the English channel" "$en" '主机|严重|事件'

# resolved: [已恢复]
rm -f "$HOOK"/alerts-*.json
coll_report "$A" 2 "$(frag 5 info)" >"$T/r2"
coll_send "$T/k" "$A" "$T/r2" | grep -q '^200 .*accepted' || bail "report 2"
wait_for 10 have alerts
tap_like "a resolved notice: [已恢复] ... 已恢复" "$(json_get "$(got alerts)" 'j["markdown"]["title"]')" \
	'^\[已恢复\] erp01：odoo/public.so_idx 的索引碎片已恢复'
coll_stop

# a language the catalogs lack is refused at start
out=$(coll_start n2 "[alerts]" "language = fr" 2>&1)
tap_like "[alerts] language = fr is refused" "$out$(cat "$T/n2.log" 2>/dev/null)" "language: 'fr' is not en or zh-CN"
tap_done
