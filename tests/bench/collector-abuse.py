#!/usr/bin/python3
"""Issue 15, items 1 and 2: attacks on the collector while real agents post.

  collector-abuse.py memory PORT PID REPORTS_DIR [CONNS] [KIB]
      CONNS connections from 127.0.0.2..5 each declare a 1 MiB report body
      (half with an unknown agent id, half with the ids of 4 other enrolled
      hosts: REPORTS_DIR/attacker-ids) and send KIB KiB
      of it, never finishing; meanwhile the signed reports in REPORTS_DIR are
      posted from 127.0.0.1. Prints the collector's peak RSS and the agents'
      success rate.
  collector-abuse.py slow PORT PID REPORTS_DIR [CONNS]
      CONNS connections from 127.0.0.2..6 trickle their headers (a byte a
      second) and reconnect when cut; meanwhile the reports are posted.

REPORTS_DIR holds NAME.json, NAME.sig and NAME.agent for each report."""
import os, socket, sys, threading, time, http.client

mode, port, pid, rdir = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
conns = int(sys.argv[5]) if len(sys.argv) > 5 else 2000
kib = int(sys.argv[6]) if len(sys.argv) > 6 else 512


def rss_kib(field="VmRSS"):
    try:
        for line in open("/proc/%d/status" % pid):
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return -1
    return -1


reports = []
for name in sorted((n for n in os.listdir(rdir) if n.endswith(".json")), key=lambda n: int(n[:-5])):
    if True:
        base = os.path.join(rdir, name[:-5])
        reports.append((open(base + ".json", "rb").read(), open(base + ".sig").read().strip(),
                        open(base + ".agent").read().strip()))
# the attacker knows the ids of a few other hosts (its own, compromised)
agent_ids = open(os.path.join(rdir, "attacker-ids")).read().split()
stop = False
peak = [0]


def sampler():
    while not stop:
        peak[0] = max(peak[0], rss_kib())
        time.sleep(0.05)


def post_all(results):
    for body, sig, agent in reports:
        t0 = time.monotonic()
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("POST", "/api/v1/reports", body,
                      {"X-Erpulse-Agent": agent, "X-Erpulse-Signature": sig,
                       "Content-Type": "application/json"})
            st = c.getresponse().status
            c.close()
        except OSError as e:
            st = type(e).__name__
        results.append((st, time.monotonic() - t0))


def memory_attack():
    held = []
    unknown = "0123456789abcdef0123456789abcdef"
    chunk = b"{" * 65536
    for i in range(conns):
        src = "127.0.0.%d" % (2 + i % 4)
        agent = unknown if i % 2 == 0 else agent_ids[i % len(agent_ids)]
        try:
            s = socket.socket()
            s.bind((src, 0))
            s.settimeout(2)
            s.connect(("127.0.0.1", port))
            s.sendall(("POST /api/v1/reports HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n"
                       "X-Erpulse-Agent: %s\r\nX-Erpulse-Signature: AAAA\r\n\r\n" % agent).encode())
            s.setblocking(False)
            held.append([s, 0])
        except OSError:
            pass
    # push the bodies as far as the server takes them
    for _ in range(kib // 64 + 2):
        for h in held:
            if h[1] >= kib * 1024:
                continue
            try:
                h[1] += h[0].send(chunk)
            except OSError:
                pass
        time.sleep(0.01)
    return held


def slow_attack(stop_ev, counter):
    socks = []
    def one(i):
        s = socket.socket()
        s.bind(("127.0.0.%d" % (2 + i % 5), 0))
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        except OSError:
            s.close()
            return None
        return [s, 0]
    for i in range(conns):
        socks.append(one(i))
    text = b"POST /api/v1/reports HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100000
    while not stop_ev.is_set():
        for i, h in enumerate(socks):
            if h is None:
                socks[i] = one(i)
                continue
            try:
                h[0].send(text[h[1]:h[1] + 1])
                h[1] += 1
                if h[0].recv(1, socket.MSG_DONTWAIT) == b"":
                    raise ConnectionResetError()
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                h[0].close()
                counter[0] += 1
                socks[i] = one(i)
        time.sleep(1.0)
    for h in socks:
        if h:
            h[0].close()


base = rss_kib()
th = threading.Thread(target=sampler, daemon=True)
th.start()
results = []
if mode == "memory":
    t0 = time.monotonic()
    held = memory_attack()
    sent = sum(h[1] for h in held)
    post_all(results)
    time.sleep(0.5)
    print("memory attack: %d connections held, %.0f MiB of body sent in %.1f s" %
          (len(held), sent / 1048576.0, time.monotonic() - t0))
    for h in held:
        h[0].close()
else:
    ev = threading.Event()
    cut = [0]
    at = threading.Thread(target=slow_attack, args=(ev, cut), daemon=True)
    at.start()
    time.sleep(3)  # let the slow clients fill the server
    post_all(results)
    ev.set()
    at.join()
    print("slow attack: %d slow connections from 5 addresses (reconnecting), %d cut" % (conns, cut[0]))
stop = True
ok = sum(1 for st, _ in results if st == 200)
lat = sorted(t for _, t in results)
print("collector RSS: %d MiB before, %d MiB peak" % (base // 1024, max(peak[0], rss_kib()) // 1024))
print("agents: %d of %d reports accepted (%.1f%%), median %.2f s, max %.2f s" %
      (ok, len(results), 100.0 * ok / max(1, len(results)), lat[len(lat) // 2] if lat else 0,
       lat[-1] if lat else 0))
codes = {}
for st, _ in results:
    codes[st] = codes.get(st, 0) + 1
print("answers: " + ", ".join("%s x%d" % (k, v) for k, v in sorted(codes.items(), key=str)))
