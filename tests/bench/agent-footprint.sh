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
# Every host probe is on: disk, a log source, the journal and patches. The
# run is a time-compressed 5-minute schedule (cycles come 300/INTERVAL times
# faster), and the patches cache's periods are scaled the same way.
#
# Before and after in one run (issue 16): BEFORE_REF (default main) is built
# from `git archive` in the temp dir (or BEFORE_BIN=/path/erpulse-agent with
# its erpulse-agentd beside it is used; BEFORE=0 skips it) and runs as a
# second agent beside this tree's, both enrolled with the same sink, both
# polled in the same samples as zabbix_agentd. The before agent gets its own
# patches cache rule (patches_interval = 1 h scaled), this tree's gets
# patches_max_age = 24 h and patches_min_interval = 10 min, scaled. Each agent
# runs one `once` first (its first simulation, timed with getrusage: the cost
# of one run of the package manager), so the sampled window is the steady
# state; the CPU line adds, for this tree's agent, that measured cost times
# the runs a day its rule makes (1 on a quiet host; 5 with apt-get update
# twice a day and a 20-minute upgrade: tests/unit/test_patches_cache.c's
# timeline), the issue-16 target being <= 3 CPU-s per hour.
#
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/pki.sh"

DURATION=${DURATION:-600}
INTERVAL=${INTERVAL:-60}
SAMPLE=${SAMPLE:-0.02}
SCALE_NUM=$INTERVAL # periods scale by INTERVAL / 300
BEFORE=${BEFORE:-1}
BEFORE_REF=${BEFORE_REF:-main}

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
# agent_conf NAME PATCHES_OPTIONS: a configuration with every host probe on
agent_conf() {
	cat >"$T/$1.conf" <<EOF
[agent]
state_dir = $T/state-$1
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
$2
EOF
}
# enroll_warm NAME BIN: enrolls, then one cycle (the first simulation); prints
# that cycle's CPU seconds (getrusage of the child)
enroll_warm() {
	"$2" --config "$T/$1.conf" enroll --collector "https://127.0.0.1:$SP" --token "good-$1" \
		>"$T/enroll-$1.log" 2>&1 || die "enroll of $1 failed: $(cat "$T/enroll-$1.log")"
	python3 -c 'import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
r = resource.getrusage(resource.RUSAGE_CHILDREN); print("%.3f" % (r.ru_utime + r.ru_stime))' \
		"$2" --config "$T/$1.conf" once
}
scaled() { echo $(($1 * SCALE_NUM / 300)); }

BEFORE_AGENT=
if [ "$BEFORE" = 1 ]; then
	if [ -n "${BEFORE_BIN:-}" ]; then
		BEFORE_AGENT=$BEFORE_BIN
	else
		src=${ERPULSE_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
		mkdir -p "$T/before" && git -C "$src" archive "$BEFORE_REF" | tar -x -C "$T/before" ||
			die "cannot export $BEFORE_REF (BEFORE=0 skips the before agent)"
		echo "building $BEFORE_REF ($(git -C "$src" rev-parse --short "$BEFORE_REF")) in $T/before ..." >&2
		make -C "$T/before" -j2 bin/erpulse-agent bin/erpulse-agentd >"$T/before.log" 2>&1 ||
			die "cannot build $BEFORE_REF: $(tail -5 "$T/before.log")"
		BEFORE_AGENT=$T/before/bin/erpulse-agent
	fi
	[ -x "$BEFORE_AGENT" ] || die "no before agent at $BEFORE_AGENT"
	agent_conf before "patches_interval = $(scaled 3600)"
	BEFORE_SIM=$(enroll_warm before "$BEFORE_AGENT")
fi
agent_conf after "patches_max_age = $(scaled 86400)
patches_min_interval = $(scaled 600)"
AFTER_SIM=$(enroll_warm after "$AGENT")

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

"$AGENT" --config "$T/after.conf" run >"$T/agent.log" 2>&1 &
APID=$!
on_exit "kill $APID; sleep 1; kill -9 $APID"
BPID=0
if [ -n "$BEFORE_AGENT" ]; then
	"$BEFORE_AGENT" --config "$T/before.conf" run >"$T/agent-before.log" 2>&1 &
	BPID=$!
	on_exit "kill $BPID; sleep 1; kill -9 $BPID"
fi
# Started as root, it switches to User=zabbix itself (AllowRoot=0 default).
zabbix_agentd -f -c "$T/zabbix/agentd.conf" >"$T/zabbix/stdout.log" 2>&1 &
ZPID=$!
on_exit "kill $ZPID; sleep 1; kill -9 $ZPID"
wait_for 10 port_open "$ZP" || die "zabbix_agentd does not listen: $(cat "$T/zabbix/stdout.log"; tail -n 3 "$T/zabbix/agentd.log" 2>&1)"
sleep 1
kill -0 "$APID" 2>/dev/null || die "erpulse-agent exited: $(tail -3 "$T/agent.log")"
[ "$BPID" = 0 ] || kill -0 "$BPID" 2>/dev/null || die "the before agent exited: $(tail -3 "$T/agent-before.log")"

echo "erpulse-agent pid $APID ($(basename "$(readlink /proc/$APID/exe)")), zabbix_agentd pid $ZPID (user zabbix); ${DURATION}s, interval ${INTERVAL}s, sample ${SAMPLE}s"
[ "$BPID" = 0 ] || echo "before agent ($BEFORE_REF${BEFORE_BIN:+: $BEFORE_BIN}) pid $BPID; one simulation cost it ${BEFORE_SIM} CPU-s, this tree's ${AFTER_SIM}"
aid() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["agent_id"])' "$T/state-$1/state" 2>/dev/null; }
python3 - "$APID" "$ZPID" "$ZP" "$DURATION" "$INTERVAL" "$SAMPLE" "$T/sink" "$BPID" "${BEFORE_SIM:-0}" "$AFTER_SIM" \
	"$(aid after)" "$(aid before)" <<'EOF'
import os, socket, struct, sys, time

apid, zpid, zport = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
duration, interval, sample = float(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
sink = sys.argv[7]
bpid, before_sim, after_sim = int(sys.argv[8]), float(sys.argv[9]), float(sys.argv[10])
trees = [("agent", apid), ("zabbix", zpid)] + ([("before", bpid)] if bpid else [])
agent_ids = {"agent": sys.argv[11], "before": sys.argv[12]}
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

stats = {n: [] for n, _ in trees}
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
    for name, pid in trees:
        if not os.path.exists("/proc/%d" % pid):
            sys.exit("%s (pid %d) died during the run" % (name, pid))
        stats[name].append(measure(pid, kids))
    if c0 is None:
        c0 = {n: stats[n][0]["cpu"] for n in stats}
    time.sleep(sample)

def mib(kb):
    return kb / 1024.0

summary = {}
for n in stats:
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
b = summary.get("before")
elapsed = time.monotonic() - t0
try:
    reports = len(os.listdir(os.path.join(sink, "reports")))
except OSError:
    reports = 0

def ratio(x, y):
    return "%.2f" % (x / y) if y else "-"

cols = [("erpulse-agent", a)] + ([("before (main)", b)] if b else []) + [("zabbix_agentd", z)]
print()
print("%-34s" % "" + "".join("%15s" % c for c, _ in cols) + "%8s" % "ratio")
for label, key, conv in (
        ("RSS main process, mean (MiB)", "main_rss_mean", mib),
        ("RSS main process, max (MiB)", "main_rss_max", mib),
        ("RSS all processes, mean (MiB)", "rss_mean", mib),
        ("RSS all processes, max (MiB)", "rss_max", mib),
        ("PSS all processes, mean (MiB)", "pss_mean", mib),
        ("PSS all processes, max (MiB)", "pss_max", mib),
        ("CPU seconds (user+sys)", "cpu", float)):
    print("%-34s" % label + "".join("%15.2f" % conv(x[key]) for _, x in cols) +
          "%8s" % ratio(a[key], z[key]))
print("%-34s" % "processes (min-max)" +
      "".join("%15s" % ("%d-%d" % (x["procs_min"], x["procs_max"])) for _, x in cols))
print("(ratio: erpulse-agent / zabbix_agentd)")
print()
for c, x in cols[:-1]:
    n = len(stats["agent"])
    print("%s: samples with a cycle process alive: %d of %d (%.1f%%); while one runs the "
          "tree peaks at RSS %.2f MiB, PSS %.2f MiB" % (
              c, x["busy"], n, 100.0 * x["busy"] / n, mib(x["busy_rss_max"]),
              mib(x["busy_pss_max"])))
print()
print("run: %.0f s, %d samples each, interval %.0f s; reports accepted by the sink: %d; "
      "zabbix item polls: %d (%d not supported/failed)" % (elapsed, len(stats["agent"]), interval,
                                                           reports, polls, poll_errors))
scale = 300.0 / interval

def per_hour(x):
    return x["cpu"] * 3600.0 / (elapsed * scale)

def simulations(name):
    """the patches simulations an agent ran in the window (its warm-up
    cycle, seq 1, was before it), with their reasons"""
    import json
    runs = []
    try:
        names = os.listdir(os.path.join(sink, "reports"))
    except OSError:
        return runs
    for f in names:
        try:
            with open(os.path.join(sink, "reports", f)) as fh:
                d = json.load(fh)
        except (OSError, ValueError):
            continue
        if d.get("agent_id") != agent_ids.get(name) or d.get("seq", 0) <= 1:
            continue
        for pr in d.get("probes", []):
            m = pr.get("metrics") or {}
            if pr.get("name") == "patches" and m.get("cached") is False:
                runs.append(m.get("cache_run_reason", "run"))
    return runs

cpu_h_z = per_hour(z)
print()
print("CPU seconds per hour at a 5-minute interval (projected, time scale x%.1f)" % scale)
print("%-34s%15s%15s" % ("", "erpulse-agent", "before (main)" if b else ""))
rows = [("agent", a, after_sim, 1, 5)] + ([("before", b, before_sim, 24, 30)] if b else [])
model = {}
for name, x, sim, quiet_runs, busy_runs in rows:
    runs = simulations(name)
    cycles = max(0.0, x["cpu"] - len(runs) * sim) * 3600.0 / (elapsed * scale)
    model[name] = (per_hour(x), runs, cycles, cycles + sim * quiet_runs / 24.0,
                   cycles + sim * busy_runs / 24.0, sim, quiet_runs, busy_runs)
def row(label, i, fmt="%15.2f"):
    print("%-34s" % label + "".join(fmt % model[n][i] for n, *_ in rows))
row("measured in the window", 0)
print("%-34s" % "  simulations in the window" +
      "".join("%15s" % ("%d %s" % (len(model[n][1]), ",".join(sorted(set(model[n][1]))) or ""))
              for n, *_ in rows))
row("one simulation (CPU-s)", 5)
row("cycles alone (window - simulations)", 2)
print("%-34s" % "simulations a day, quiet host" + "".join("%15d" % model[n][6] for n, *_ in rows))
row("  cycles + simulations, quiet", 3)
print("%-34s" % "simulations a day, busy host" + "".join("%15d" % model[n][7] for n, *_ in rows))
row("  cycles + simulations, busy", 4)
print("zabbix_agentd: %.2f. Quiet: nothing changes (after: the 24 h backstop; before: hourly)."
      " Busy: apt-get update twice a day and a 20-minute upgrade (after: 5 runs, the"
      " timeline of tests/unit/test_patches_cache.c; before: hourly plus ~6)." % cpu_h_z)
busy = model["agent"][4]
print("target <= 3 CPU-s per hour (busy host): %s" % ("met" if busy <= 3 else "NOT met"))
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
