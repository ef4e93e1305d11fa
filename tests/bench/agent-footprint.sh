#!/bin/bash
# Footprint of erpulse-agent next to zabbix_agentd (Debian package
# zabbix-agent, its default configuration), side by side on this host for
# DURATION seconds at the same INTERVAL:
#  - erpulse-agent in `run` mode (the daemon), probing this host (disk, a log
#    source) and pushing signed reports over HTTPS to a local https_sink
#    (tests/tools/https_sink: real TLS, real signature checks). `run` execs
#    the small resident supervisor erpulse-agentd (same PID), which starts a
#    short-lived cycle process (the full erpulse-agent, with its forked probe
#    workers) every INTERVAL;
#  - zabbix_agentd in the foreground as its own user `zabbix`, polled every
#    INTERVAL for the equivalent items (filesystem size and inodes, disk
#    I/O, uptime) over its passive protocol, as a Zabbix server would.
# Every SAMPLE seconds (default 0.02: a cycle process lives for a tenth of a
# second or so, and slower sampling misses most of them) it reads, for each process tree (the daemon and
# all its children: the agent's cycle process and probe workers while a
# cycle runs, zabbix_agentd's collector, listeners and active-checks
# process), Rss and Pss from /proc/PID/smaps_rollup and CPU time from
# /proc/PID/stat (utime+stime of the live processes plus cutime+cstime of
# the daemon: cycle processes and workers that have exited). Means are over
# the samples, so they are time-weighted; maxima include the cycles.
#
#   DURATION=600 INTERVAL=60 SAMPLE=0.02 tests/bench/agent-footprint.sh
#   SMAPS=1 also lists the agent's largest mappings at the end.
# Every host probe is on: disk, a log source, the journal and patches (with
# patches_interval = PATCHES_INTERVAL, default one hour scaled like INTERVAL:
# 3600 * INTERVAL / 300). The CPU line projects the agent's CPU-seconds per
# hour at a 5-minute interval from the run (the run is a time-compressed
# 5-minute schedule: cycles come 300/INTERVAL times faster, and so does the
# patches cache's expiry), the issue-16 target being <= 3 CPU-s per hour.
#
# Targets (issue 3): agent RSS under 8 MiB (the resident daemon process);
# agent PSS at most half of zabbix_agentd's (whole trees, mean). Prints a
# table and the verdicts; figures, not a test: exits non-zero only when it
# could not measure.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/pki.sh"

DURATION=${DURATION:-600}
INTERVAL=${INTERVAL:-60}
SAMPLE=${SAMPLE:-0.02}
PATCHES_INTERVAL=${PATCHES_INTERVAL:-$((3600 * INTERVAL / 300))}

die() {
	echo "agent-footprint: $*" >&2
	exit 1
}
[ -x "$AGENT" ] || die "no $AGENT (make)"
[ -x "$TOOLS/https_sink" ] || die "no $TOOLS/https_sink (make tools)"
if ! command -v zabbix_agentd >/dev/null; then
	echo "agent-footprint: zabbix_agentd missing; installing zabbix-agent" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends zabbix-agent \
		>"$T/apt.log" 2>&1 || die "cannot install zabbix-agent (see scripts/install-deps --bench)"
fi
getent passwd zabbix >/dev/null || die "no 'zabbix' user (the zabbix-agent package creates it)"

# ---- erpulse-agent: enrolled against a local HTTPS sink -------------------
pki_make "$T/pki" >/dev/null 2>&1 || die "cannot make the test PKI (openssl)"
on_exit sink_stop
SP=$(free_port)
sink_start "$T/sink" "$SP" "$T/pki/server.pem" "$T/pki/server.key" || die "https_sink did not start"
logsrc=$(ls /var/log/*.log 2>/dev/null | head -3 | tr '\n' ' ')
[ -n "$logsrc" ] || {
	logsrc=$T/app.log
	echo "2026-11-26 21:00:00,000 1 ERROR db odoo.sql_db: bad query" >"$logsrc"
}
cat >"$T/agent.conf" <<EOF
[agent]
state_dir = $T/state
interval = $INTERVAL
jitter = 0
ca_file = $T/pki/ca.pem
allow_root = yes
log_level = warning

[disk]

[log.system]
paths = $logsrc

[journal]

[patches]
patches_interval = $PATCHES_INTERVAL
EOF
"$AGENT" --config "$T/agent.conf" enroll --collector "https://127.0.0.1:$SP" --token good-bench \
	>"$T/enroll.log" 2>&1 || die "enroll failed: $(cat "$T/enroll.log")"

# ---- zabbix_agentd: the package's default configuration -------------------
# zabbix_agentd takes ListenPort 1024-32767 only
ZP=$(python3 -c 'import random, socket
for _ in range(100):
    p = random.randint(20000, 32000); s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); print(p); break
    except OSError:
        pass
    finally:
        s.close()')
mkdir -p "$T/zabbix"
chown zabbix: "$T/zabbix"
# Defaults from /etc/zabbix/zabbix_agentd.conf; only where files go and the
# port change, so the test does not collide with an installed agent.
grep -vE '^(PidFile|LogFile|ListenPort|Include)=' /etc/zabbix/zabbix_agentd.conf >"$T/zabbix/agentd.conf"
printf 'PidFile=%s\nLogFile=%s\nListenPort=%s\n' "$T/zabbix/agentd.pid" "$T/zabbix/agentd.log" "$ZP" \
	>>"$T/zabbix/agentd.conf"
chmod 644 "$T/zabbix/agentd.conf"

"$AGENT" --config "$T/agent.conf" run >"$T/agent.log" 2>&1 &
APID=$!
on_exit "kill $APID; sleep 1; kill -9 $APID"
# Started as root, it switches to User=zabbix itself (AllowRoot=0 default).
zabbix_agentd -f -c "$T/zabbix/agentd.conf" >"$T/zabbix/stdout.log" 2>&1 &
ZPID=$!
on_exit "kill $ZPID; sleep 1; kill -9 $ZPID"
wait_for 10 port_open "$ZP" || die "zabbix_agentd does not listen: $(cat "$T/zabbix/stdout.log"; tail -n 3 "$T/zabbix/agentd.log" 2>&1)"
sleep 1
kill -0 "$APID" 2>/dev/null || die "erpulse-agent exited: $(tail -3 "$T/agent.log")"

echo "erpulse-agent pid $APID ($(basename "$(readlink /proc/$APID/exe)")), zabbix_agentd pid $ZPID (user zabbix); ${DURATION}s, interval ${INTERVAL}s, sample ${SAMPLE}s"
python3 - "$APID" "$ZPID" "$ZP" "$DURATION" "$INTERVAL" "$SAMPLE" "$T/sink" <<'EOF'
import os, socket, struct, sys, time

apid, zpid, zport = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
duration, interval, sample = float(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
sink = sys.argv[7]
tick = os.sysconf("SC_CLK_TCK")

def children_map():
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                s = f.read()
        except OSError:
            continue
        ppid = int(s[s.rindex(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(d))
    return kids

def tree(root, kids):
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out

def rollup(pid):
    rss = pss = 0
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss  # kB

def cpu(pid, with_children):
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return 0.0
    fl = s[s.rindex(")") + 2:].split()
    t = int(fl[11]) + int(fl[12])  # utime, stime
    if with_children:
        t += int(fl[13]) + int(fl[14])  # cutime, cstime: waited-for children
    return t / tick

def measure(root, kids):
    pids = tree(root, kids)
    rss = pss = 0
    for p in pids:
        r, q = rollup(p)
        rss += r
        pss += q
    main_rss, _ = rollup(root)
    c = cpu(root, True) + sum(cpu(p, False) for p in pids if p != root)
    return {"rss": rss, "pss": pss, "main_rss": main_rss, "cpu": c, "n": len(pids)}

def zbx_get(key):
    data = key.encode()
    msg = b"ZBXD\x01" + struct.pack("<II", len(data), 0) + data
    with socket.create_connection(("127.0.0.1", zport), timeout=5) as s:
        s.sendall(msg)
        buf = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    return buf[13:].decode(errors="replace")

ZBX_ITEMS = ["vfs.fs.discovery", "vfs.fs.size[/,total]", "vfs.fs.size[/,used]",
             "vfs.fs.size[/,free]", "vfs.fs.size[/,pused]", "vfs.fs.inode[/,total]",
             "vfs.fs.inode[/,pfree]", "vfs.dev.read[,ops]", "vfs.dev.write[,ops]",
             "vfs.dev.read[,sectors]", "vfs.dev.write[,sectors]", "system.uptime",
             "agent.ping"]

stats = {"agent": [], "zabbix": []}
c0 = None
polls = poll_errors = 0
t0 = time.monotonic()
next_poll = t0
while True:
    now = time.monotonic()
    if now - t0 >= duration:
        break
    if now >= next_poll:
        for k in ZBX_ITEMS:
            try:
                v = zbx_get(k)
                polls += 1
                if v.startswith("ZBX_NOTSUPPORTED"):
                    poll_errors += 1
            except OSError:
                poll_errors += 1
        next_poll += interval
    kids = children_map()
    for name, pid in (("agent", apid), ("zabbix", zpid)):
        if not os.path.exists("/proc/%d" % pid):
            sys.exit("%s (pid %d) died during the run" % (name, pid))
        stats[name].append(measure(pid, kids))
    if c0 is None:
        c0 = {n: stats[n][0]["cpu"] for n in stats}
    time.sleep(sample)

def mib(kb):
    return kb / 1024.0

rows = []
summary = {}
for n in ("agent", "zabbix"):
    s = stats[n]
    summary[n] = {
        "main_rss_mean": sum(x["main_rss"] for x in s) / len(s),
        "main_rss_max": max(x["main_rss"] for x in s),
        "rss_mean": sum(x["rss"] for x in s) / len(s),
        "rss_max": max(x["rss"] for x in s),
        "pss_mean": sum(x["pss"] for x in s) / len(s),
        "pss_max": max(x["pss"] for x in s),
        "cpu": s[-1]["cpu"] - c0[n],
        "procs_max": max(x["n"] for x in s),
        "procs_min": min(x["n"] for x in s),
        "busy": sum(1 for x in s if x["n"] > 1),
        "busy_rss_max": max([x["rss"] for x in s if x["n"] > 1] or [0]),
        "busy_pss_max": max([x["pss"] for x in s if x["n"] > 1] or [0]),
    }
a, z = summary["agent"], summary["zabbix"]
elapsed = time.monotonic() - t0
try:
    reports = len(os.listdir(os.path.join(sink, "reports")))
except OSError:
    reports = 0

def ratio(x, y):
    return "%.2f" % (x / y) if y else "-"

print()
print("%-34s %14s %14s %8s" % ("", "erpulse-agent", "zabbix_agentd", "ratio"))
for label, key, conv in (
        ("RSS main process, mean (MiB)", "main_rss_mean", mib),
        ("RSS main process, max (MiB)", "main_rss_max", mib),
        ("RSS all processes, mean (MiB)", "rss_mean", mib),
        ("RSS all processes, max (MiB)", "rss_max", mib),
        ("PSS all processes, mean (MiB)", "pss_mean", mib),
        ("PSS all processes, max (MiB)", "pss_max", mib),
        ("CPU seconds (user+sys)", "cpu", float)):
    print("%-34s %14.2f %14.2f %8s" % (label, conv(a[key]), conv(z[key]), ratio(a[key], z[key])))
print("%-34s %14s %14s" % ("processes (min-max)", "%d-%d" % (a["procs_min"], a["procs_max"]),
                           "%d-%d" % (z["procs_min"], z["procs_max"])))
print()
print("erpulse-agent samples with a cycle process alive: %d of %d (%.1f%%); while one runs the "
      "tree peaks at RSS %.2f MiB, PSS %.2f MiB" % (
          a["busy"], len(stats["agent"]), 100.0 * a["busy"] / len(stats["agent"]),
          mib(a["busy_rss_max"]), mib(a["busy_pss_max"])))
print()
print("run: %.0f s, %d samples each, interval %.0f s; erpulse reports accepted by the sink: %d; "
      "zabbix item polls: %d (%d not supported/failed)" % (elapsed, len(stats["agent"]), interval,
                                                           reports, polls, poll_errors))
scale = 300.0 / interval
cpu_h_a = a["cpu"] * 3600.0 / (elapsed * scale)
cpu_h_z = z["cpu"] * 3600.0 / (elapsed * scale)
print("CPU seconds per hour at a 5-minute interval (projected, time scale x%.1f): erpulse-agent "
      "%.2f, zabbix_agentd %.2f (ratio %s); target <= 3: %s" % (
          scale, cpu_h_a, cpu_h_z, ratio(cpu_h_a, cpu_h_z), "met" if cpu_h_a <= 3 else "NOT met"))
ok_rss = mib(a["main_rss_max"]) < 8
ok_pss = a["pss_mean"] <= z["pss_mean"] / 2
print("target agent RSS < 8 MiB (resident daemon process, max %.2f MiB): %s" % (mib(a["main_rss_max"]),
                                                                    "met" if ok_rss else "NOT met"))
print("target agent PSS <= 1/2 zabbix_agentd PSS (%.2f vs %.2f MiB, mean): %s" % (
    mib(a["pss_mean"]), mib(z["pss_mean"]), "met" if ok_pss else "NOT met"))
if os.environ.get("SMAPS"):
    # where the agent's memory goes: the largest mappings by Pss
    import collections
    rss, pss, cur = collections.Counter(), collections.Counter(), None
    with open("/proc/%d/smaps" % apid) as f:
        for line in f:
            fl = line.split()
            if "-" in fl[0] and not fl[0].endswith(":"):
                cur = fl[5] if len(fl) > 5 else "[anonymous]"
            elif fl[0] == "Rss:":
                rss[cur] += int(fl[1])
            elif fl[0] == "Pss:":
                pss[cur] += int(fl[1])
    print("\nerpulse-agent mappings by Pss (kB):")
    for k, v in pss.most_common(15):
        print("%8d Pss %8d Rss  %s" % (v, rss[k], k))
if reports == 0:
    sys.exit("the agent delivered no report: not a representative run")
EOF
