#!/bin/bash
# Issue 15, the collector's commands: lifecycle (users, tokens, customers,
# hosts, --json), tls init (a private CA whose certificate the collector
# serves and whose CA and pin verify it), import of an agent export bundle (the
# same verify -> parse -> commit path as POST /api/v1/reports; duplicates
# answered as such; a tampered, foreign or cut bundle refused) and a command
# run as root on a store owned by the service user (refused, with the
# command to use).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/40-collector-ingest.sh"

coll_start cli || bail "collector did not start"
DB=$T/cli.db
A1=$(coll_enroll Acme "$T/k1" erp01)
A2=$(coll_enroll Acme "$T/k2" erp02)
[ -n "$A1" ] && [ -n "$A2" ] || bail "cannot enroll"
coll_stop

# bundle OUT AGENT KEY SEQ... [-- tamper|noend|foreign]: an erpulse.bundle.v1
bundle() {
	local out=$1 agent=$2 key=$3 mode=
	shift 3
	: >"$out.lines"
	for s in "$@"; do
		case $s in tamper | noend | foreign) mode=$s; continue ;; esac
		coll_report "$agent" "$s" >"$T/b.json"
		printf '%s %s\n' "$("$TOOLS/coll_post" sign "$key" "$T/b.json")" "$(base64 -w0 <"$T/b.json")" >>"$out.lines"
	done
	/usr/bin/python3 - "$out" "$agent" "$mode" <<'PY'
import base64, json, sys
out, agent, mode = sys.argv[1], sys.argv[2], sys.argv[3]
lines = [json.dumps({"agent_id": agent, "agent_version": "0.1.0", "created_at": "2026-12-06T14:00:00Z",
                     "format": "erpulse.bundle.v1"}, separators=(",", ":"), sort_keys=True)]
n = 0
for l in open(out + ".lines"):
    sig, body = l.split()
    raw = base64.b64decode(body)
    if mode == "tamper" and n == 1:
        raw = raw.replace(b'"seq":', b'"seq": ', 1) if b'"seq": ' not in raw else raw
    seq = json.loads(raw)["seq"]
    lines.append(json.dumps({"agent_id": agent, "body": base64.b64encode(raw).decode(), "seq": seq,
                             "signature": sig}, separators=(",", ":"), sort_keys=True))
    n += 1
if mode != "noend":
    lines.append(json.dumps({"end": True, "reports": n}, separators=(",", ":"), sort_keys=True))
open(out, "w").write("".join(l + "\n" for l in lines))
PY
}

bundle "$T/ok.bundle" "$A1" "$T/k1" 1 2 3
out=$(coll_cli import "$T/ok.bundle" 2>&1)
rc=$?
tap_like "import: every report accepted" "$(echo $out)" 'seq 1: accepted.*seq 3: accepted.*3 accepted, 0 duplicate, 0 refused'
tap_is "  ... exit 0" "$rc" 0
tap_is "  ... stored as sent" "$(coll_sql "$DB" "SELECT COUNT(*) FROM reports WHERE agent_id='$A1'")" 3
out=$(coll_cli import "$T/ok.bundle" 2>&1)
tap_like "the same bundle again: every report a duplicate" "$out" '0 accepted, 3 duplicate, 0 refused'

bundle "$T/t.bundle" "$A1" "$T/k1" 4 5 6 tamper
out=$(coll_cli import "$T/t.bundle" 2>&1)
rc=$?
tap_like "a tampered report is refused on its signature" "$out" 'seq 5: refused: unknown agent or bad signature'
tap_like "  ... the others are imported" "$out" '2 accepted, 0 duplicate, 1 refused'
tap_is "  ... exit 1" "$rc" 1
tap_is "  ... the tampered one is not stored" \
	"$(coll_sql "$DB" "SELECT COUNT(*) FROM reports WHERE agent_id='$A1' AND seq=5")" 0

# signed by another agent's key, claiming A1
bundle "$T/f.bundle" "$A1" "$T/k2" 7
out=$(coll_cli import "$T/f.bundle" 2>&1)
tap_like "a report signed with another key: refused" "$out" 'seq 7: refused: unknown agent or bad signature'

bundle "$T/n.bundle" "$A2" "$T/k2" 1 2 noend
out=$(coll_cli import "$T/n.bundle" 2>&1)
rc=$?
tap_like "a bundle cut short: the reports before the cut are imported" "$out" '2 accepted'
tap_like "  ... and the cut is reported" "$out" 'no end line'
tap_is "  ... exit 1" "$rc" 1
printf 'not a bundle\n' >"$T/x.bundle"
tap_check "not a bundle: refused" bash -c "! $COLLECTOR --config $COLL_CONF import $T/x.bundle"

# ---- lifecycle commands, every listing with --json ---------------------------------------------
U=$(coll_cli user add vera --role vendor 2>/dev/null)
tap_like "user list works" "$(coll_cli user list)" 'vera +vendor'
tap_is "user list --json" "$(coll_cli user list --json | json_get - 'j[0]["name"]')" vera
U2=$(coll_cli user rotate vera 2>/dev/null)
tap_like "user rotate prints a new token" "$U2" '^epa_[0-9a-f]{40}$'
tap_check "  ... a different one" test "$U" != "$U2"
tap_like "user revoke" "$(coll_cli user revoke vera)" 'revoked vera'
tap_is "  ... gone" "$(coll_cli user list --json)" '[]'
coll_cli token create Acme >/dev/null 2>&1
VALID='[t for t in j if t["state"]=="valid"][0]'
TID=$(coll_cli token list --json | json_get - "$VALID[\"id\"]")
tap_like "token list --json: an id, the customer, the state" \
	"$(coll_cli token list --json | json_get - "($VALID[\"customer\"], $VALID[\"state\"])")" "Acme.*valid"
NEWTOK=$(coll_cli token rotate "$TID" 2>/dev/null)
tap_like "token rotate prints a new token" "$NEWTOK" '^ept_[0-9a-f]{40}$'
tap_like "  ... the old one is used up" "$(coll_cli token list)" "$TID .* used_up"
TID=$(coll_cli token list --json | json_get - "$VALID[\"id\"]")
tap_like "token revoke ID" "$(coll_cli token revoke "$TID")" "revoked token $TID"
tap_like "  ... it is used up" "$(coll_cli token list)" "$TID .* used_up"
tap_like "customer rename" "$(coll_cli customer rename Acme 'Acme GmbH')" 'renamed'
tap_is "customer list --json" "$(coll_cli customer list --json | json_get - 'j[0]["name"]')" "Acme GmbH"
tap_is "agent list --json" "$(coll_cli agent list --json | json_get - 'len(j)')" 2
tap_like "host production ID no" "$(coll_cli host production "$A2" no)" 'production no'
tap_is "  ... stored" "$(coll_sql "$DB" "SELECT production FROM agents WHERE id='$A2'")" 0
tap_like "host label" "$(coll_cli host label "$A2" 'ERP test box')" "label 'ERP test box'"
tap_is "  ... in agent list --json" \
	"$(coll_cli agent list --json | json_get - '[a["label"] for a in j if a["id"]=="'"$A2"'"][0]')" "ERP test box"
tap_like "host archive" "$(coll_cli host archive "$A2")" "archived $A2"
tap_is "  ... archived and revoked, history kept" \
	"$(coll_sql "$DB" "SELECT archived_at IS NOT NULL, revoked_at IS NOT NULL, (SELECT COUNT(*) FROM reports WHERE agent_id='$A2') FROM agents WHERE id='$A2'")" "1|1|2"
coll_cli customer add Old >/dev/null
coll_cli token create Old >/dev/null 2>&1
tap_like "customer archive" "$(coll_cli customer archive Old)" 'archived Old'
tap_is "  ... its tokens used up" "$(coll_sql "$DB" "SELECT SUM(uses_left) FROM enroll_tokens t JOIN customers c ON c.id=t.customer_id WHERE c.name='Old'")" 0
tap_is "the schema is at migration 14" "$(coll_cli migrate)" "store schema version 14"
out=$(coll_cli scores --json)
tap_is "scores --json works" "$(json_get - 'sorted(j.keys())' <<<"$out")" "['customers', 'hosts']"
tap_check "an unknown subcommand: usage, exit 2" bash -c "$COLLECTOR --config $COLL_CONF token frobnicate 2>/dev/null; [ \$? = 2 ]"

# ---- tls init: a private CA and a server certificate, and what agents need -----------------------
mkdir -p "$T/tls"
out=$("$COLLECTOR" tls init --name 127.0.0.1 --dir "$T/tls" 2>&1)
tap_like "tls init prints the agent's ca_file content" "$(echo $out)" 'ca_file = .*BEGIN CERTIFICATE'
PIN=$(printf '%s\n' "$out" | sed -n 's/.*pinned_pubkey = \(sha256\/\/[A-Za-z0-9+\/=]*\).*/\1/p')
tap_like "  ... and the pin" "$PIN" '^sha256//[A-Za-z0-9+/]{43}=$'
tap_is "  ... the keys are private" "$(stat -c %a "$T/tls/collector.key" "$T/tls/collector-ca.key" | sort -u)" 600
tap_check "  ... never overwrites" bash -c "! $COLLECTOR tls init --name 127.0.0.1 --dir $T/tls 2>/dev/null"
printf '[server]\nlisten = 127.0.0.1:%s\ntls_cert = %s\ntls_key = %s\n[store]\nurl = sqlite://%s\n' \
	"$(free_port)" "$T/tls/collector.crt" "$T/tls/collector.key" "$T/tlsinit.db" >"$T/tlsinit.conf"
TP=$(sed -n 's/^listen = 127.0.0.1://p' "$T/tlsinit.conf")
"$COLLECTOR" --config "$T/tlsinit.conf" serve >>"$T/tlsinit.log" 2>&1 &
TPID=$!
on_exit "kill $TPID; wait $TPID"
for ((i = 0; i < 100; i++)); do
	curl -s -o /dev/null --cacert "$T/tls/collector-ca.pem" "https://127.0.0.1:$TP/healthz" && break
	sleep 0.1
done
tap_like "the collector serves the certificate; the CA verifies it" \
	"$(curl -s --cacert "$T/tls/collector-ca.pem" "https://127.0.0.1:$TP/healthz")" '"status":"ok"'
tap_like "  ... and the pin matches it" \
	"$(curl -s -k --pinnedpubkey "$PIN" "https://127.0.0.1:$TP/healthz")" '"status":"ok"'
kill $TPID

# ---- a command run as root on the service's store ------------------------------------------
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	mkdir -p "$T/svc"
	cp "$DB" "$T/svc/s.db"
	chown -R nobody "$T/svc"
	sed "s|^url = .*|url = sqlite://$T/svc/s.db|" "$COLL_CONF" >"$T/svc.conf"
	out=$("$COLLECTOR" --config "$T/svc.conf" customer list 2>&1)
	rc=$?
	tap_is "root on a store owned by the service user: refused" "$rc" 1
	tap_like "  ... with the command to use" "$out" 'sudo -u nobody erpulse-collector --config .* customer list'
	tap_is "  ... and no root-owned file left" "$(find "$T/svc" -user root | wc -l)" 0
	rm "$T/svc/s.db"
	out=$("$COLLECTOR" --config "$T/svc.conf" migrate 2>&1)
	tap_like "  ... nor created in a directory the service owns" "$out" "belongs to user 'nobody'"
else
	echo "ok # SKIP not root"
fi
tap_done
