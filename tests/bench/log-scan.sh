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
# best of RUNS runs each, and prints GB/s and the ratios.
#   tests/bench/log-scan.sh [SIZE_MB (default 1024)] [RUNS (default 3)]
# Targets: the probe no slower than grep, within 2x of rg.
set -eu
SRC=$(cd "$(dirname "$0")/../.." && pwd)
O=${O:-$SRC}
case "$O" in /*) ;; *) O=$SRC/$O ;; esac
PROBE_RUN=$O/build/obj/tests/tools/probe_run
SIZE_MB=${1:-1024}
RUNS=${2:-3}
PATTERN='ERROR|FATAL|CRITICAL|Exception'
[ -x "$PROBE_RUN" ] || { echo "log-scan: $PROBE_RUN not built (make tests)" >&2; exit 2; }
RG=$(command -v rg || true)
[ -n "$RG" ] || echo "log-scan: rg not found (apt-get install ripgrep); skipping it" >&2

W=$(mktemp -d /tmp/erpulse-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT
LOG=$W/odoo.log

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

# best wall time in seconds of RUNS runs of a command
best() {
	local b="" t0 t1 s i
	for ((i = 0; i < RUNS; i++)); do
		t0=$(date +%s%N)
		"$@" >"$W/last.out" 2>/dev/null || true
		t1=$(date +%s%N)
		s=$(((t1 - t0) / 1000))
		if [ -z "$b" ] || [ "$s" -lt "$b" ]; then b=$s; fi
	done
	echo "$b"
}
probe() { rm -f "$W/state.$1"; "$PROBE_RUN" "$W/agent.conf" "log.$1" --state "$W/state.$1" --timeout-ms 3600000; }

us_single=$(best probe single)
single_errors=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1]))["metrics"]; print(m["error_records"], m["lines"], len(m["top_signatures"]))' "$W/last.out")
us_probe=$(best probe pattern)
probe_errors=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1]))["metrics"]; print(m["error_records"], m["lines"], m["continuation_lines"], len(m["top_signatures"]))' "$W/last.out")
us_preset=$(best probe preset)
preset_errors=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1]))["metrics"]; print(m["error_records"])' "$W/last.out")
us_grep=$(best grep -c -E "$PATTERN" "$LOG")
grep_count=$(cat "$W/last.out")
us_rg=""
if [ -n "$RG" ]; then
	us_rg=$(best "$RG" -c "$PATTERN" "$LOG")
	rg_count=$(cat "$W/last.out")
fi

gbs() { awk -v b="$BYTES" -v us="$1" 'BEGIN {printf "%.2f", b / (us / 1e6) / 1e9}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
echo "file: $((BYTES >> 20)) MiB, $(nproc) cores, page cache warm, best of $RUNS"
set -- $single_errors
echo "probe (pattern, a record per line, signatures): $(gbs "$us_single") GB/s  error records $1, lines $2, top signatures $3"
set -- $probe_errors
echo "probe (pattern, multi-line, signatures):        $(gbs "$us_probe") GB/s  error records $1, lines $2 (continuation $3), top signatures $4"
echo "probe (odoo preset, header regex/line):         $(gbs "$us_preset") GB/s  error records $preset_errors"
echo "grep -c -E:                                     $(gbs "$us_grep") GB/s  matching lines $grep_count"
[ -n "$us_rg" ] && echo "rg -c:                                          $(gbs "$us_rg") GB/s  matching lines $rg_count"
echo "probe time / grep time: $(ratio "$us_single" "$us_grep") a record per line, $(ratio "$us_probe" "$us_grep") multi-line (target <= 1)"
[ -n "$us_rg" ] && echo "probe time / rg time:   $(ratio "$us_single" "$us_rg") a record per line, $(ratio "$us_probe" "$us_rg") multi-line (target <= 2)"
exit 0
