#!/bin/bash
# Benchmark of the log probe against GNU grep and ripgrep (issue 6, item 6).
# Generates an ERP-style log (Odoo layout, 0.5% error records, most with a
# Python traceback), warms the page cache, then scans it with
#   - the log probe (probe_run, signatures on) with error_pattern
#     ERROR|FATAL|CRITICAL|Exception, a record per line (what grep and rg
#     count), then the same with a multi-line record rule (tracebacks),
#   - the log probe with the odoo preset (a header regex on every line),
#   - grep -c -E 'ERROR|FATAL|CRITICAL|Exception',
#   - rg -c 'ERROR|FATAL|CRITICAL|Exception' (Debian package ripgrep),
# in RUNS interleaved rounds, and prints the median GB/s of each and the
# ratios (median, and the worst single round).
#   [BENCH_LOG=PATH] tests/bench/log-scan.sh [SIZE_MB (default 1024)] [RUNS (default 5)]
# Targets: the probe no slower than grep, within 2x of rg.
set -eu
SRC=$(cd "$(dirname "$0")/../.." && pwd)
O=${O:-$SRC}
case "$O" in /*) ;; *) O=$SRC/$O ;; esac
PROBE_RUN=$O/build/obj/tests/tools/probe_run
SIZE_MB=${1:-1024}
RUNS=${2:-5}
PATTERN='ERROR|FATAL|CRITICAL|Exception'
[ -x "$PROBE_RUN" ] || { echo "log-scan: $PROBE_RUN not built (make tests)" >&2; exit 2; }
RG=$(command -v rg || true)
[ -n "$RG" ] || echo "log-scan: rg not found (apt-get install ripgrep); skipping it" >&2

W=$(mktemp -d /tmp/erpulse-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT
LOG=$W/odoo.log
# BENCH_LOG=PATH: generate the log there once and keep it for later runs
if [ -n "${BENCH_LOG:-}" ]; then LOG=$BENCH_LOG; fi

if [ ! -s "$LOG" ] || [ -z "${BENCH_LOG:-}" ]; then
# 64 MiB of distinct records, repeated up to SIZE_MB
python3 - "$W/block" <<'PY'
import random, sys
random.seed(42)
mods = ["odoo.modules.loading", "odoo.http", "werkzeug", "odoo.addons.sale.models.sale_order",
        "odoo.addons.stock.models.stock_move", "odoo.sql_db", "odoo.addons.account.models.account_move",
        "odoo.service.server", "odoo.addons.base.models.ir_cron", "odoo.addons.mail.models.mail_thread"]
tb = ('Traceback (most recent call last):\n'
      '  File "/usr/lib/python3/dist-packages/odoo/http.py", line 1589, in _serve_db\n'
      '    return service_model.retrying(self._serve_ir_http, env=self.env)\n'
      '  File "/usr/lib/python3/dist-packages/odoo/service/model.py", line 133, in retrying\n'
      '    result = func()\n'
      'psycopg2.errors.SerializationFailure: could not serialize access due to concurrent update\n')
out, size, i = [], 0, 0
while size < 64 << 20:
    i += 1
    r = random.random()
    if r < 0.005:
        lvl = random.choice(["ERROR", "ERROR", "ERROR", "CRITICAL"])
        msg = random.choice(["Exception during request handling.", "bad query: UPDATE sale_order SET state='done' WHERE id=%d" % i,
                             "Failed to process mail id %d: timeout after 30s" % i])
        rec = "2026-11-26 %02d:%02d:%02d,%03d %d %s erpdb %s: %s\n" % (i // 3600 % 24, i // 60 % 60, i % 60, i % 1000, 4000 + i % 16, lvl, random.choice(mods), msg)
        if random.random() < 0.7:
            rec += tb
    else:
        lvl = random.choices(["INFO", "DEBUG", "WARNING"], [90, 7, 3])[0]
        if random.random() < 0.6:
            msg = '10.0.%d.%d - - [26/Nov/2026 10:00:00] "POST /web/dataset/call_kw/sale.order/read HTTP/1.1" 200 - %d 0.%03d 0.%03d' % (i % 255, i % 250, i % 90, i % 1000, (i * 7) % 1000)
            mod = "werkzeug"
        else:
            msg = "record %d of model res.partner written by uid %d in %d ms" % (i, i % 40, i % 300)
            mod = random.choice(mods)
        rec = "2026-11-26 %02d:%02d:%02d,%03d %d %s erpdb %s: %s\n" % (i // 3600 % 24, i // 60 % 60, i % 60, i % 1000, 4000 + i % 16, lvl, mod, msg)
    out.append(rec)
    size += len(rec)
open(sys.argv[1], "w").write("".join(out))
PY
: >"$LOG"
while [ "$(stat -c %s "$LOG")" -lt $((SIZE_MB << 20)) ]; do cat "$W/block" >>"$LOG"; done
rm -f "$W/block"
fi
BYTES=$(stat -c %s "$LOG")
cat "$LOG" >/dev/null # warm the page cache

cat >"$W/agent.conf" <<CONF
[log.single]
paths = $LOG
error_pattern = $PATTERN
start_at = beginning
budget_mb = 1048576
signatures = yes

[log.pattern]
paths = $LOG
error_pattern = $PATTERN
record_start = ^\\d{4}-\\d\\d-\\d\\d
multiline = yes
start_at = beginning
budget_mb = 1048576
signatures = yes

[log.preset]
paths = $LOG
preset = odoo
start_at = beginning
budget_mb = 1048576
CONF

# RUNS rounds; each round times every scanner once, one after the other, so
# a busy moment of the machine hits all of them alike. Times in microseconds.
tm() {
	local t0 t1
	t0=$(date +%s%N)
	"$@" >"$W/last.out" 2>/dev/null || true
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000))
}
probe() { rm -f "$W/state.$1"; "$PROBE_RUN" "$W/agent.conf" "log.$1" --state "$W/state.$1" --timeout-ms 3600000; }
jmetric() { python3 -c 'import json,sys; m=json.load(open(sys.argv[1]))["metrics"]; print(" ".join(str(len(m[k]) if isinstance(m[k], list) else m[k]) for k in sys.argv[2:]))' "$W/last.out" "$@"; }

declare -a T_SINGLE T_PATTERN T_PRESET T_GREP T_RG
for ((i = 0; i < RUNS; i++)); do
	T_SINGLE[i]=$(tm probe single)
	single_errors=$(jmetric error_records lines top_signatures)
	T_PATTERN[i]=$(tm probe pattern)
	probe_errors=$(jmetric error_records lines continuation_lines top_signatures)
	T_PRESET[i]=$(tm probe preset)
	preset_errors=$(jmetric error_records)
	T_GREP[i]=$(tm grep -c -E "$PATTERN" "$LOG")
	grep_count=$(cat "$W/last.out")
	if [ -n "$RG" ]; then
		T_RG[i]=$(tm "$RG" -c "$PATTERN" "$LOG")
		rg_count=$(cat "$W/last.out")
	fi
done

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : int((a[NR / 2] + a[NR / 2 + 1]) / 2)}'; }
# the largest per-round ratio a/b over the rounds
worst() {
	local -n A=$1 B=$2
	local k out=""
	for ((k = 0; k < RUNS; k++)); do out="$out ${A[k]} ${B[k]}"; done
	echo "$out" | awk '{w = 0; for (k = 1; k < NF; k += 2) if ($k / $(k + 1) > w) w = $k / $(k + 1); printf "%.2f", w}'
}
gbs() { awk -v b="$BYTES" -v us="$1" 'BEGIN {printf "%5.2f", b / (us / 1e6) / 1e9}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }

m_single=$(median "${T_SINGLE[@]}")
m_pattern=$(median "${T_PATTERN[@]}")
m_preset=$(median "${T_PRESET[@]}")
m_grep=$(median "${T_GREP[@]}")
m_rg=""
[ -n "$RG" ] && m_rg=$(median "${T_RG[@]}")

echo "file: $((BYTES >> 20)) MiB, $(nproc) cores, page cache warm, median of $RUNS interleaved rounds"
printf '%-44s %s  %s  %s  %s\n' "scanner" "GB/s " "time/grep (worst)" "time/rg (worst)" "counts"
row() { # name median-us array-name counts
	local vg="" vr="-"
	vg="$(ratio "$2" "$m_grep") ($(worst "$3" T_GREP))"
	[ -n "$m_rg" ] && vr="$(ratio "$2" "$m_rg") ($(worst "$3" T_RG))"
	printf '%-44s %s  %-17s  %-15s  %s\n' "$1" "$(gbs "$2")" "$vg" "$vr" "$4"
}
set -- $single_errors
row "probe: pattern, a record per line, sigs" "$m_single" T_SINGLE "error records $1, lines $2, signatures $3"
set -- $probe_errors
row "probe: pattern, multi-line records, sigs" "$m_pattern" T_PATTERN "error records $1, lines $2 (continuation $3), signatures $4"
row "probe: odoo preset (header per record)" "$m_preset" T_PRESET "error records $preset_errors"
row "grep -c -E" "$m_grep" T_GREP "matching lines $grep_count"
[ -n "$m_rg" ] && row "rg -c" "$m_rg" T_RG "matching lines $rg_count"
echo "targets: probe time/grep <= 1, probe time/rg <= 2 (worst = the largest ratio within one round)"
exit 0
