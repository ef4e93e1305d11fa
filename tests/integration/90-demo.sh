#!/bin/bash
# make demo, end to end, its HTTPS from `erpulse-collector tls init` (the
# CA it prints is the agent's ca_file), on a terminal that is 2 rows by 20 columns (psql
# would page there and wait for a key: the demo must not), with the agent
# kept running as a daemon (a 3 s interval here) so the host keeps
# reporting instead of turning silent after its one cycle.
. "$(dirname "$0")/lib.sh"

command -v script >/dev/null || bail "no script(1) (util-linux) to give the demo a terminal"
HOLD=240 # at most: the demo stops as soon as the daemon delivered 2 reports
cmd="stty rows 2 cols 20; DEMO_HOLD_SECONDS=$HOLD DEMO_HOLD_REPORTS=2 DEMO_INTERVAL=3 make -C '$SRC' --no-print-directory O='$O' demo"
# script(1) gives the demo a pseudo-terminal; its own stdin is empty
timeout 600 script -qec "$cmd" /dev/null </dev/null >"$T/demo.out" 2>&1
rc=$?
out=$(tr -d '\r' <"$T/demo.out")
tap_is "demo on a tiny terminal: exit 0 (no pager waited for a key)" "$rc" 0
tap_like "  ... made its TLS with erpulse-collector tls init" "$(echo $out)" "tls init --name 127.0.0.1 --dir [^ ]*/tls.*Wrote [^ ]*/tls/collector.crt and collector.key"
tap_like "  ... which printed the CA for the agents' ca_file" "$(echo $out)" "ca_file = .* -----BEGIN CERTIFICATE-----"
tap_like "  ... and the pin alternative" "$out" "pinned_pubkey = sha256//[A-Za-z0-9+/]{43}="
tap_like "  ... the agent trusts that CA" "$out" "agent.conf: collector = https://127.0.0.1:[0-9]+, ca_file = /.*/tls/collector-ca.pem"
tap_like "  ... showed the rotten index" "$out" "sale_order_line_order_id_idx: [0-9.]+% wasted leaf space"
tap_like "  ... once said the report was accepted" "$out" "report seq 1: accepted by https://127.0.0.1:[0-9]+"
tap_like "  ... the fragmentation alert arrived" "$out" "index_fragmentation"
tap_like "  ... the agent daemon ran" "$out" "agent daemon running \(pid [0-9]+, a report every 3 s"
seq=$(printf '%s\n' "$out" | sed -n 's/.*agent: next seq \([0-9]*\), last push: accepted seq.*/\1/p' | tail -1)
tap_check "  ... and kept reporting: 2 more reports delivered (next seq ${seq:-?} >= 4)" test "${seq:-0}" -ge 4
tap_like "  ... the build said one line" "$out" "building \(log: .*demo-build.log\)"
tap_check "  ... and no compiler line" sh -c "! grep -q -- '-std=c11' '$T/demo.out'"

tap_done
