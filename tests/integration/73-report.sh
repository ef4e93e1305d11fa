#!/bin/bash
# The monthly health report (issue 13, docs/report.md) of a fixture month
# (report-fixture.py: November 2026 of one customer, Asia/Shanghai), rendered
# by `erpulse-collector report` in zh-CN and en, PDF and HTML, at an injected
# clock (ERPULSE_TEST_CLOCK_FILE):
#  - pdftotext of the zh-CN PDF holds the Chinese headings and the exact
#    figures; the en PDF the English ones;
#  - pdffonts: every font embedded; pdftoppm renders every page;
#  - the HTML is one file: no src= or href= to anything, inline CSS and SVG;
#  - clear errors and a non-zero exit: unknown customer, bad month, a month
#    not begun, an unwritable file;
#  - the same fixture on PostgreSQL gives the same report, word for word.
# UPDATE_SAMPLES=1 copies the PDFs to docs/samples/.
. "$(dirname "$0")/lib.sh"

for t in pdftotext pdffonts pdftoppm pdfinfo; do
	command -v $t >/dev/null || bail "$t is not installed (poppler-utils: scripts/install-deps)"
done
fc-list | grep -q "Noto Sans CJK SC" || bail "fonts-noto-cjk is not installed (scripts/install-deps)"
fc-list | grep -q "Liberation Sans" || bail "fonts-liberation2 is not installed (scripts/install-deps)"

DB=$T/store.db
C() { "$COLLECTOR" --store "sqlite://$DB" "$@"; }
CID=$(C customer add "Acme Manufacturing") || bail "customer add"
C customer tier "Acme Manufacturing" gold >/dev/null || bail "customer tier"
NOW=$(python3 "$SRC/tests/integration/report-fixture.py" "$DB" "$CID") || bail "fixture"
echo "$NOW" >"$T/clock"
export ERPULSE_TEST_CLOCK_FILE=$T/clock

for lang in zh-CN en; do
	for fmt in pdf html; do
		tap_check "report $lang $fmt" C report "Acme Manufacturing" --month 2026-11 \
			--lang "$lang" --format "$fmt" --time-zone Asia/Shanghai -o "$T/r.$lang.$fmt"
	done
done
# the default file name, in the current directory
(cd "$T" && C report "$CID" --month 2026-11 --lang zh-CN --time-zone Asia/Shanghai 2>/dev/null)
tap_check "default file name" test -s "$T/erpulse-$CID-2026-11.zh-CN.pdf"

# ---- zh-CN PDF: headings and exact figures --------------------------------------
ZH=$(pdftotext -layout "$T/r.zh-CN.pdf" - 2>/dev/null)
for h in 月度健康报告 总体评级 分类评级 主要风险 本月已修复 "SLA 达成情况" 容量 数据库 补丁 日志 环比变化 下月建议; do
	tap_like "zh-CN heading $h" "$ZH" "$h"
done
tap_like "zh-CN month and customer" "$ZH" "Acme Manufacturing · 2026年11月"
tap_like "zh-CN score and band" "$ZH" "62 +有风险"
tap_like "zh-CN trend Jun..Nov" "$ZH" "55 .*"
for v in 63 68 74 70; do tap_like "zh-CN trend month mean $v" "$ZH" " $v( |$)"; done
tap_like "zh-CN category patches red 50" "$ZH" "补丁 +红 +50"
tap_like "zh-CN category liveness green 100" "$ZH" "在线状态 +绿 +100"
tap_like "zh-CN top risk: security updates, incident #4 open" "$ZH" "安全更新.*#4 未处理"
tap_like "zh-CN fix: before 62.5 after 4.5, verified 5 Nov" "$ZH" "62\.5 +4\.5 +2026年11月5日"
tap_like "zh-CN fix: before 93.0 after 61.0" "$ZH" "93\.0 +61\.0 +2026年11月9日"
tap_like "zh-CN SLA tier gold" "$ZH" "服务等级：金牌"
tap_like "zh-CN SLA opened 5" "$ZH" "新开事件 +5"
tap_like "zh-CN SLA median response 45 min vs 30 min" "$ZH" "45 分钟 +30 分钟"
tap_like "zh-CN SLA resolution rate 50.0%" "$ZH" "50\.0% +不低于 95%"
tap_like "zh-CN SLA promise not kept" "$ZH" "未达成 95% 解决率的承诺"
tap_like "zh-CN capacity /var/lib/postgresql 70.0% -> 86.2%, full 12 Jan 2027" "$ZH" \
	"/var/lib/postgresql +70\.0% +86\.2% +2027年1月11日"
tap_like "zh-CN 2 indexes over 30%" "$ZH" "2 个索引超过碎片阈值（30%）"
tap_like "zh-CN maintenance debt 1" "$ZH" "维护欠账：1 项"
tap_like "zh-CN backup 20 h" "$ZH" "20 小时前"
tap_like "zh-CN patches: 4 pending since 18 Nov, reboot, EOL" "$ZH" \
	"erp-db-01 +4 +2026年11月18日（13 天） +是 +2028年6月30日"
tap_like "zh-CN top signature 412, on the host's label" "$ZH" "psycopg2.OperationalError.*Odoo app A +odoo +412"
tap_like "zh-CN the closed incident of the labelled host" "$ZH" "日志错误：odoo +Odoo app A .*#5 已关闭"
tap_like "zh-CN month over month: database 80 -> 55 regressed" "$ZH" "数据库 +80 +55 +退步"
tap_like "zh-CN incidents new 5 resolved 2" "$ZH" "本月新开事件：5。本月已解决：2。"
tap_like "zh-CN recommendation: window before closing" "$ZH" "月末结账前（2026年12月28日 之前）"
tap_like "zh-CN recommendation: extend the disk" "$ZH" "/var/lib/postgresql 扩容"
tap_like "zh-CN page numbers" "$ZH" "第 1 页，共 [0-9]+ 页"

EN=$(pdftotext -layout "$T/r.en.pdf" - 2>/dev/null)
for h in "Monthly health report" "Overall rating" "Rating by category" "Top risks" \
	"Fixed this month" "SLA attainment" Capacity Database Patches Logs "Month over month" \
	"Recommendations for next month"; do
	tap_like "en heading $h" "$EN" "$h"
done
tap_like "en figures: fix 62.5 -> 4.5 on 5 Nov 2026" "$EN" "62\.5 +4\.5 +5 Nov 2026"
tap_like "en figures: resolution 50.0%" "$EN" "50\.0% +at least 95%"
tap_like "en page numbers" "$EN" "Page 1 of [0-9]+"
tap_like "en generated at the injected clock" "$EN" "Generated 1 Dec 2026 02:00, Asia/Shanghai"

# ---- fonts and pages --------------------------------------------------------------
for lang in zh-CN en; do
	f=$T/r.$lang.pdf
	fonts=$(pdffonts "$f" | tail -n +3)
	tap_like "$lang: Latin in Liberation Sans" "$fonts" "LiberationSans"
	[ "$lang" = zh-CN ] && tap_like "$lang: Chinese in Noto Sans CJK" "$fonts" "NotoSansCJKsc"
	notemb=$(printf '%s\n' "$fonts" | awk '$(NF-4) != "yes"' | grep -c . || true)
	tap_is "$lang: every font embedded" "$notemb" 0
	pages=$(pdfinfo "$f" | awk '/^Pages:/ {print $2}')
	tap_like "$lang: page size A4" "$(pdfinfo "$f")" "595.276 x 841.89 pts \(A4\)"
	pdftoppm -r 40 -png "$f" "$T/page-$lang" 2>"$T/ppm.err"
	n=$(ls "$T"/page-"$lang"-*.png 2>/dev/null | wc -l)
	tap_is "$lang: pdftoppm rendered all $pages pages" "$n" "$pages"
	tap_is "$lang: pdftoppm without errors" "$(cat "$T/ppm.err")" ""
	size=$(stat -c %s "$f")
	# font subsets keep it small (docs/report.md, "Fonts")
	tap_check "$lang: PDF under 400 kB ($size bytes)" test "$size" -lt 400000
done

# ---- HTML: self-contained ---------------------------------------------------------
for lang in zh-CN en; do
	h=$T/r.$lang.html
	tap_is "$lang HTML: no src= or href=" "$(grep -ciE '(src|href)[[:space:]]*=' "$h")" 0
	tap_is "$lang HTML: no url(...) or @import" "$(grep -ciE 'url\(|@import' "$h")" 0
	tap_check "$lang HTML: inline SVG charts" grep -q "<svg xmlns" "$h"
	tap_check "$lang HTML: print styles" grep -q "@media print" "$h"
done
HZ=$(cat "$T/r.zh-CN.html")
tap_like "zh-CN HTML: the same figures (62.5 -> 4.5)" "$HZ" "<td>62\.5</td><td>4\.5</td>"
tap_like "zh-CN HTML: lang" "$HZ" '<html lang="zh-CN">'

# ---- errors -------------------------------------------------------------------------
out=$(C report Nobody --month 2026-11 -o "$T/x.pdf" 2>&1)
tap_is "unknown customer: exit 1" "$?" 1
tap_like "unknown customer: says so" "$out" "customer 'Nobody': no such customer"
out=$(C report "Acme Manufacturing" --month 2026-13 2>&1)
tap_is "bad month: exit 2" "$?" 2
tap_like "bad month: says the form" "$out" "expected YYYY-MM"
out=$(C report "Acme Manufacturing" --month 2027-01 -o "$T/x.pdf" 2>&1)
tap_is "future month: exit 1" "$?" 1
tap_like "future month: says so" "$out" "has not begun yet"
out=$(C report "Acme Manufacturing" --month 2026-11 -o "$T/no/such/dir/r.pdf" 2>&1)
tap_is "unwritable file: exit 1" "$?" 1
tap_like "unwritable file: names it" "$out" "cannot write '$T/no/such/dir/r.pdf'"
out=$(C report "Acme Manufacturing" --month 2026-11 --format docx 2>&1)
tap_is "bad format: exit 2" "$?" 2
tap_check "no file left behind" test ! -e "$T/x.pdf"

# an empty month says so instead of inventing
C customer add Empty >/dev/null
C report Empty --month 2026-11 --lang en --format html -o "$T/empty.html" 2>/dev/null
tap_check "empty customer: renders" test -s "$T/empty.html"
tap_like "empty customer: no data this month" "$(cat "$T/empty.html")" "No data this month"

# ---- the same month on PostgreSQL: the same report, word for word -----------------
if pg_start; then
	pg_sql -c "CREATE DATABASE erpulse_report" || bail "createdb"
	PGURL="postgresql://$PG_SUPERUSER:$PG_SUPERPASS@127.0.0.1:$PGPORT/erpulse_report"
	P() { "$COLLECTOR" --store "$PGURL" "$@"; }
	PCID=$(P customer add "Acme Manufacturing") || bail "customer add (PostgreSQL)"
	P customer tier "Acme Manufacturing" gold >/dev/null
	python3 "$SRC/tests/integration/report-fixture.py" - "$PCID" >"$T/fixture.sql"
	tap_check "PostgreSQL: fixture loaded" pg_sql -d erpulse_report -f "$T/fixture.sql"
	for lang in zh-CN en; do
		tap_check "PostgreSQL: report $lang" P report "Acme Manufacturing" --month 2026-11 \
			--lang "$lang" --time-zone Asia/Shanghai -o "$T/pg.$lang.pdf"
		tap_is "PostgreSQL: $lang text as on SQLite" \
			"$(pdftotext -layout "$T/pg.$lang.pdf" - 2>/dev/null | md5sum)" \
			"$(pdftotext -layout "$T/r.$lang.pdf" - 2>/dev/null | md5sum)"
	done
	pdftotext -layout "$T/pg.zh-CN.pdf" "$T/pg.txt" 2>/dev/null
	pdftotext -layout "$T/r.zh-CN.pdf" "$T/lite.txt" 2>/dev/null
	diff "$T/lite.txt" "$T/pg.txt" | head -20 | sed 's/^/#   /'
	pg_stop
else
	tap_fail "PostgreSQL did not start"
fi

if [ "${UPDATE_SAMPLES:-0}" = 1 ]; then
	mkdir -p "$SRC/docs/samples"
	cp "$T/r.zh-CN.pdf" "$SRC/docs/samples/report-2026-11.zh-CN.pdf"
	cp "$T/r.en.pdf" "$SRC/docs/samples/report-2026-11.en.pdf"
	cp "$T/r.zh-CN.html" "$SRC/docs/samples/report-2026-11.zh-CN.html"
	cp "$T/r.en.html" "$SRC/docs/samples/report-2026-11.en.html"
fi
tap_done
