#!/usr/bin/env python3
"""fleet-scale-read: read latency of erpulse-collector's endpoints for
tests/bench/fleet-scale.sh. Each request is timed from sending it to
having read the whole answer (keep-alive connection, loopback).

  fleet-scale-read.py --url URL --runs N [--token T] [--html index.html]
                      LABEL=PATH[|PAGE] ...  (PATH relative to /api/v1/, or /metrics;
                                              PAGE: the first page, when it pages)
                      LABEL=@first-view  (what the dashboard fetches on load,
                                          in parallel, read from --html)
Prints per endpoint: "read LABEL p50_ms p99_ms bytes items how" where how is
"page" (PAGE answered {"items", "next"}: that first page was measured),
"list" (the whole list) or "text"; for the first view, the paths;
"HTTP503:4of20" when answers other than 200 came (their times count too).
"""
import argparse
import http.client
import json
import re
import sys
import threading
import time
import urllib.parse


def first_view_paths(html):
    """The API paths the dashboard's refresh() fetches when the page opens
    (no host open, no filter): its api(...) calls, except the conditional
    ones (`cond ? api(...) : null`) and a host's detail ("hosts/" + id).
    An argument is a string literal, a literal + a numeric `var` of the page
    (PAGE), or a function of the page returning `"path?" + qs({... limit:
    N ...})`, taken as "path?limit=N"."""
    text = open(html, encoding="utf-8").read()
    nums = dict(re.findall(r"\b([A-Z_]+) = (\d+)\b", text))
    m = re.search(r"function refresh\(\)(.*?)\n\t}\n", text, re.S)
    body = m.group(1) if m else ""
    paths = []
    for at in [m.end() for m in re.finditer(r"\bapi\(", body)]:
        depth, end = 1, at
        while depth and end < len(body):
            depth += {"(": 1, ")": -1}.get(body[end], 0)
            end += 1
        arg = body[at:end - 1]
        if body[:at - 4].rstrip().endswith("?"):
            continue  # conditional: not on the first view
        lit = re.match(r'\s*"([^"]*)"\s*(?:\+\s*([A-Z_]+)\b)?', arg)
        call = re.match(r"\s*(\w+)\(\)\s*$", arg)
        if lit:
            # a literal + (a parenthesized choice) is the literal: the page's defaults
            path = lit.group(1) + (nums.get(lit.group(2), "") if lit.group(2) else "")
        elif call:
            f = re.search(r"function %s\(\) \{\s*return \"([^\"]+)\"(.*?)\n\t}" % call.group(1),
                          text, re.S)
            if not f:
                continue
            # qs({...}): a key's string literal (or its `|| "default"`), the
            # limit's number; keys that are null when nothing is chosen go
            args_ = re.findall(r'\b(\w+): (?:[^,{}"]*\|\|\s*)?"([^"]+)"', f.group(2))
            lim = re.search(r"\blimit: (\w+)", f.group(2))
            if lim:
                args_.append(("limit", nums.get(lim.group(1), lim.group(1))))
            path = f.group(1) + "&".join("%s=%s" % kv for kv in args_)
        else:
            continue
        if path and not path.endswith("/"):
            paths.append(path)
    return paths or ["hosts", "alerts", "customers", "incidents"]


class Client:
    def __init__(self, url, token):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port
        self.token = token
        self.conn = None

    def get(self, path):
        if not path.startswith("/"):
            path = "/api/v1/" + path
        hdrs = {"Authorization": "Bearer " + self.token} if self.token else {}
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
            try:
                t0 = time.perf_counter()
                self.conn.request("GET", path, headers=hdrs)
                r = self.conn.getresponse()
                body = r.read()
                return r.status, body, (time.perf_counter() - t0) * 1000
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        return 0, b"", 0.0


def shape(body):
    try:
        j = json.loads(body)
    except ValueError:
        return "text", 0
    if isinstance(j, dict) and "items" in j and "next" in j:
        return "page", len(j["items"]) if isinstance(j["items"], list) else 0
    if isinstance(j, dict):
        for v in j.values():
            if isinstance(v, list):
                return "list", len(v)
    return "list", len(j) if isinstance(j, list) else 0


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(p * (len(v) - 1) + 0.5))] if v else 0.0


def measure(args, label, path):
    c = Client(args.url, args.token)
    path, _, paged = path.partition("|")
    if paged:
        # an endpoint that pages when asked (keyset: {"items", "next"}) is
        # measured on its first page; one that does not, on what it answers
        st, body, _ = c.get(paged)
        if st == 200 and shape(body)[0] == "page":
            path = paged
    c.get(path)  # warm: prepared statements, page cache
    ms, size, how, items, failed, ok_body = [], 0, "text", 0, {}, b""
    for _ in range(args.runs):
        st, body, t = c.get(path)
        ms.append(t)
        if st != 200:
            # e.g. 503: the store's deadline (statement_timeout_ms) cut the query
            failed[st] = failed.get(st, 0) + 1
            continue
        size, ok_body = len(body), body
    how, items = shape(ok_body)
    if failed:
        how = "+".join("HTTP%d:%dof%d" % (st, n, args.runs) for st, n in sorted(failed.items()))
    print("read %s %.1f %.1f %d %d %s" % (label, pct(ms, 0.5), pct(ms, 0.99), size, items, how),
          flush=True)


def measure_parallel(args, label, paths):
    clients = [Client(args.url, args.token) for _ in paths]
    out = [None] * len(paths)

    def one(i):
        out[i] = clients[i].get(paths[i])

    def round_trip():
        ts = [threading.Thread(target=one, args=(i,)) for i in range(len(paths))]
        t0 = time.perf_counter()
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        return (time.perf_counter() - t0) * 1000

    round_trip()
    ms, failed = [], {}
    for _ in range(args.runs):
        ms.append(round_trip())
        for i, r in enumerate(out):
            if r[0] != 200:
                failed[r[0]] = failed.get(r[0], 0) + 1
    size = sum(len(r[1]) for r in out)
    how = "+".join(p.replace(" ", "") for p in paths)
    if failed:
        how = "+".join("HTTP%d:%dof%d" % (st, n, args.runs * len(paths))
                       for st, n in sorted(failed.items()))
    print("read %s %.1f %.1f %d %d %s" % (label, pct(ms, 0.5), pct(ms, 0.99), size, len(paths), how),
          flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--token", default="")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--html")
    ap.add_argument("--first-view", help="PATH,PATH...: instead of reading them from --html")
    ap.add_argument("endpoints", nargs="+")
    args = ap.parse_args()
    for e in args.endpoints:
        label, path = e.split("=", 1)
        if path == "@first-view":
            paths = args.first_view.split(",") if args.first_view else first_view_paths(args.html)
            measure_parallel(args, label, paths)
        else:
            measure(args, label, path)


if __name__ == "__main__":
    main()
