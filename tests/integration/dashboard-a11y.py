#!/usr/bin/env python3
"""The dashboard's accessibility, measured in real Chromium (72-dashboard-a11y.sh).

    dashboard-a11y.py CHROMIUM TMPDIR BASE_URL VENDOR_TOKEN VIEWER_TOKEN HOST_ID LANG [SHOTS_DIR]

For one language (en or zh-CN), on every view (sign-in, fleet, host page,
customer portal):
  contrast   every visible text node (and the text of ::before/::after, the
             placeholders and the selects) against its effective background,
             composited through the ancestors' backgrounds and opacities:
             4.5:1, 3:1 for large text (WCAG 2.x AA, 1.4.3); the boundaries
             and marks that carry meaning (inputs, band dots, rating bars,
             sparklines, the focus ring) at 3:1 (1.4.11)
  keyboard   Tab from the top of the page to the end: each stop is visible
             (on screen, not under the sticky header), shows a focus ring,
             has an accessible name (Chromium's own accessibility tree); no
             stop repeats before the end (no trap); the expected controls
             are reached; then the paths a keyboard user takes (skip link,
             sort a column with Enter and Space, open a host with Enter, back
             with the back link and with Escape, switch the language)
  700 px     no horizontal page scroll, charts inside their cards; a
             screenshot of each view (SHOTS_DIR/a11y-700-VIEW-LANG.png)
Prints TAP-like lines ("ok - ...", "not ok - ...", "#   detail") that the
shell script counts, and "# figures ..." lines for docs/dashboard.md."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cdp import Browser, CDPError  # noqa: E402

chromium, tmp, base, vendor, viewer, host, lang = sys.argv[1:8]
shots = sys.argv[8] if len(sys.argv) > 8 else None
other = "zh-CN" if lang == "en" else "en"
failures = 0
TOTAL = {"nodes": 0, "pairs": {}}  # over every view and width, for docs/dashboard.md

# The measuring code, evaluated in the page (DevTools evaluation is not
# subject to the page's CSP).
LIB = r"""
window.__a11y = window.__a11y || (function () {
	var WHITE = { r: 255, g: 255, b: 255, a: 1 };
	function parse(c) {
		var m = /^rgba?\(([^)]+)\)$/.exec(String(c).trim());
		if (!m) return null;
		var p = m[1].split(/[\s,\/]+/).filter(Boolean).map(parseFloat);
		return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
	}
	function over(top, under) {
		var a = top.a;
		return { r: top.r * a + under.r * (1 - a), g: top.g * a + under.g * (1 - a), b: top.b * a + under.b * (1 - a), a: 1 };
	}
	function mix(x, y, o) { return { r: x.r * o + y.r * (1 - o), g: x.g * o + y.g * (1 - o), b: x.b * o + y.b * (1 - o), a: 1 }; }
	function lum(c) {
		var ch = function (v) { v /= 255; return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
		return 0.2126 * ch(c.r) + 0.7152 * ch(c.g) + 0.0722 * ch(c.b);
	}
	function ratio(a, b) { var x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); }
	function hex(c) { return "#" + [c.r, c.g, c.b].map(function (v) { return ("0" + Math.round(v).toString(16)).slice(-2); }).join(""); }
	function chain(e) { var c = []; for (; e && e.nodeType === 1; e = e.parentElement) c.unshift(e); return c; }
	var bad = [];
	/* the colour of a pixel inside element chain[last]: each ancestor's
	 * background over what is under it, each opacity group mixed with what
	 * is under the group; top (text, a border) painted last */
	function paint(ch, i, under, top) {
		if (i === ch.length) return top ? over(top, under) : under;
		var cs = getComputedStyle(ch[i]), bg = parse(cs.backgroundColor), o = parseFloat(cs.opacity);
		if (cs.backgroundImage !== "none" && bad.indexOf(ch[i]) < 0) bad.push(ch[i]);
		var inside = bg && bg.a > 0 ? over(bg, under) : under;
		var r = paint(ch, i + 1, inside, top);
		return o < 1 ? mix(r, under, o) : r;
	}
	function where(e) {
		var out = [];
		for (var k = 0; e && e.nodeType === 1 && k < 4; e = e.parentElement, k++)
			out.unshift(e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (typeof e.className === "string" && e.className ? "." + e.className.trim().split(/\s+/).join(".") : ""));
		return out.join(" > ");
	}
	function shown(e) {
		for (var x = e; x && x.nodeType === 1; x = x.parentElement) {
			var cs = getComputedStyle(x);
			if (cs.display === "none" || cs.visibility === "hidden" || parseFloat(cs.opacity) === 0) return false;
			if (cs.clip !== "auto" || cs.clipPath !== "none") return false;
			if (cs.overflow !== "visible") { var r = x.getBoundingClientRect(); if (r.width <= 1 || r.height <= 1) return false; }
		}
		var rr = e.getBoundingClientRect();
		return rr.width > 0 && rr.height > 0 && rr.right > 0 && rr.bottom > -window.scrollY;
	}
	function large(cs) { var s = parseFloat(cs.fontSize), w = parseInt(cs.fontWeight, 10) || 400; return s >= 24 || (s >= 18.66 && w >= 700); }
	/* every visible text against its background: {checked, pairs, min, fails} */
	function contrast() {
		bad = [];
		var out = { checked: 0, pairs: {}, min: null, fails: [], nontext: 0 };
		function check(e, fg, text, kind, need) {
			var ch = chain(e), bgc = paint(ch, 0, WHITE, null), fgc = paint(ch, 0, WHITE, fg);
			var r = ratio(fgc, bgc), key = hex(fgc) + " on " + hex(bgc) + " (" + need + ":1)";
			if (kind === "text") out.checked++; else out.nontext++;
			if (!out.pairs[key] || out.pairs[key].ratio > r) out.pairs[key] = { ratio: r, text: text, where: where(e), need: need, kind: kind };
			if (kind === "text" && (!out.minText || r < out.minText.ratio)) out.minText = { ratio: r, text: text, fg: hex(fgc), bg: hex(bgc) };
			if (!out.min || r / need < out.min.ratio / out.min.need) out.min = { ratio: r, need: need, text: text, where: where(e), fg: hex(fgc), bg: hex(bgc), kind: kind };
			if (r < need - 0.005) out.fails.push({ kind: kind, text: text, where: where(e), fg: hex(fgc), bg: hex(bgc), ratio: Math.round(r * 100) / 100, need: need });
		}
		var w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT), n;
		while ((n = w.nextNode())) {
			var t = n.nodeValue.replace(/\s+/g, " ").trim(), e = n.parentElement;
			if (!t || !e || e.closest("script,style,option,:disabled") || !shown(e)) continue;
			var rg = document.createRange();
			rg.selectNodeContents(n);
			if (!Array.prototype.some.call(rg.getClientRects(), function (r) { return r.width > 0 && r.height > 0; })) continue;
			var cs = getComputedStyle(e), fg = parse(cs.webkitTextFillColor || cs.color) || parse(cs.color);
			check(e, fg, t.slice(0, 40), "text", large(cs) ? 3 : 4.5);
		}
		Array.prototype.forEach.call(document.body.querySelectorAll("*"), function (e) {
			if (e.closest(":disabled") || !shown(e)) return;
			["::before", "::after"].forEach(function (p) {
				var ps = getComputedStyle(e, p), c = ps.content;
				if (!c || c === "none" || c === "normal" || ps.display === "none") return;
				var txt = c === "attr(data-label)" ? e.getAttribute("data-label") : c.replace(/^"|"$/g, "");
				if (!txt || !txt.trim()) return;
				check(e, parse(ps.color), p + " " + txt.slice(0, 30), "text", large(ps) ? 3 : 4.5);
			});
			var cs = getComputedStyle(e);
			if ((e.tagName === "INPUT" && e.placeholder && !e.value) && e.type !== "hidden")
				check(e, parse(getComputedStyle(e, "::placeholder").color), "placeholder " + e.placeholder.slice(0, 30), "text", 4.5);
			if (e.tagName === "SELECT") check(e, parse(cs.color), "select " + (e.options[e.selectedIndex] || {}).text, "text", large(cs) ? 3 : 4.5);
			/* 1.4.11: the boundary of a text input or select against what is around it */
			if ((e.tagName === "INPUT" && /^(text|search|password)$/.test(e.type)) || e.tagName === "SELECT")
				check(e.parentElement, parse(cs.borderTopColor), "boundary of " + e.tagName.toLowerCase() + "#" + e.id, "boundary", 3);
		});
		/* marks that carry a meaning: band dots, score bars, rating edges, sparklines */
		Array.prototype.forEach.call(document.querySelectorAll(".dot, .bar > div, .rating, svg.spark polyline"), function (e) {
			if (!shown(e.tagName === "polyline" ? e.parentNode : e)) return;
			var cs = getComputedStyle(e), c = e.tagName === "polyline" ? parse(cs.stroke) : e.classList.contains("rating") ? parse(cs.borderLeftColor) : parse(cs.backgroundColor);
			if (e.classList.contains("bar") || (e.parentElement && e.parentElement.classList.contains("bar"))) {
				if (!parseFloat(cs.width)) return; /* an empty bar shows nothing */
				return check(e.parentElement, c, "bar " + where(e), "mark", 3);
			}
			check(e.tagName === "polyline" ? e.parentNode.parentNode : e.parentElement, c, "mark " + where(e.tagName === "polyline" ? e.parentNode : e), "mark", 3);
		});
		out.gradients = bad.map(where);
		out.npairs = Object.keys(out.pairs).length;
		return out;
	}
	/* the focused element: what it is, whether it is seen, its ring */
	var ids = new WeakMap(), nid = 0;
	function focused() {
		var e = document.activeElement;
		if (!e || e === document.body || e === document.documentElement) return { none: true };
		if (!ids.has(e)) ids.set(e, ++nid);
		var r = e.getBoundingClientRect(), cs = getComputedStyle(e);
		var cx = Math.min(Math.max(r.left + r.width / 2, 0), innerWidth - 1), cy = Math.min(Math.max(r.top + Math.min(r.height / 2, 8), 0), innerHeight - 1);
		var hit = document.elementFromPoint(cx, cy);
		var onTop = !!hit && (hit === e || e.contains(hit) || (hit.contains(e) && hit.tagName === "LABEL"));
		var inView = r.width > 0 && r.height > 0 && r.bottom > 0 && r.top < innerHeight && r.right > 0 && r.left < innerWidth;
		var ring = null, ringRatio = null;
		if (cs.outlineStyle !== "none" && parseFloat(cs.outlineWidth) >= 1) ring = parse(cs.outlineColor);
		if (ring) {
			var ch = chain(e.parentElement);
			ringRatio = ratio(paint(ch, 0, WHITE, ring), paint(ch, 0, WHITE, null));
		}
		return { id: ids.get(e), where: where(e), tag: e.tagName.toLowerCase(), elid: e.id, visible: inView && onTop,
			hit: hit ? where(hit) : null, ring: !!ring || cs.boxShadow !== "none", ringRatio: ringRatio,
			text: (e.textContent || e.value || "").trim().slice(0, 40) };
	}
	/* every band colour in every use the page has, whether or not the
	 * fixture shows it (an unknown host, a skipped probe): added to a card
	 * of the page, measured by contrast(), then removed */
	function swatches() {
		var box = document.createElement("div"), add = function (parent, tag, cls, text) {
			var e = document.createElement(tag);
			e.className = cls;
			if (text) e.textContent = text;
			parent.appendChild(e);
			return e;
		};
		box.className = "card";
		box.id = "a11y-swatches";
		["healthy", "at_risk", "critical", "unknown", "none"].forEach(function (b) {
			add(box, "span", "score " + b, "42");
			add(box, "span", "score big " + b, "42");
			var chip = add(box, "span", "chip", b);
			add(chip, "span", "dot " + b);
			var bar = add(box, "div", "bar");
			add(bar, "div", b).setAttribute("data-w", "1");
		});
		["critical", "warning", "info"].forEach(function (v) { add(box, "span", "sev " + v, v); });
		["error", "silent", "revoked", "skipped", "never_reported", "ok", "active"].forEach(function (v) { add(box, "span", "st " + v, v); });
		["green", "yellow", "red", "grey"].forEach(function (r) {
			var d = add(box, "div", "rating " + r);
			add(d, "strong", "", r);
			add(d, "div", "why", "why " + r);
		});
		add(box, "span", "stale", "stale");
		add(box, "span", "tag", "tag");
		add(box, "span", "muted", "muted");
		var main = document.getElementById("main");
		main.insertBefore(box, main.firstChild);
		[].forEach.call(box.querySelectorAll(".bar > div"), function (d) { d.style.width = "50%"; });
		return box.querySelectorAll("*").length;
	}
	return { contrast: contrast, focused: focused, swatches: swatches };
})();
"""

VIEWS = {
    # name: (url, token, condition when rendered, expected tab stops (selectors))
    "signin": (base + "#lang=" + lang, None,
               "!document.getElementById('signin').hidden && document.documentElement.lang === '%s'" % lang,
               ["#skip", "#home", "#lang", "#token", "#signin-form button[type=submit]"]),
    "fleet": (base + "#lang=%s&token=%s" % (lang, vendor), vendor,
              "!document.getElementById('fleet').hidden && document.querySelectorAll('#hosts tbody a').length >= 3"
              " && document.getElementById('updated').textContent && document.documentElement.lang === '%s'"
              " && document.querySelectorAll('#hosts [data-spark] svg').length >= 1" % lang,
              ["#skip", "#home", "[id^=band-]", "#lang", "#refresh", "#signout", "#closed", "#alerts tbody a",
               "#customers button.cust", "#filter", "#hosts th[data-sort=customer]", "#hosts th[data-sort=score]",
               "#hosts th[data-sort=open_alerts]", "#hosts tbody a"]),
    "host": (base + "hosts/%s#lang=%s&token=%s" % (host, lang, vendor), vendor,
             "!document.getElementById('host').hidden && document.querySelector('h1.hostname')"
             " && document.querySelectorAll('.chart[data-drawn]').length >= 5 && document.documentElement.lang === '%s'" % lang,
             ["#skip", "#home", "#lang", "#refresh", "#signout", "#back", "#host-body button.copy"]),
    "portal": (base + "#lang=%s&token=%s" % (lang, viewer), viewer,
               "!document.getElementById('fleet').hidden && document.querySelector('#fixed-card [data-fixed]')"
               " && document.querySelector('#adoption-card [data-health]') && document.querySelector('#portal .chart[data-drawn]')"
               " && document.querySelectorAll('#hosts tbody a').length >= 2 && document.documentElement.lang === '%s'" % lang,
               ["#skip", "#home", "#lang", "#refresh", "#signout", "#portal button.copy", "#filter", "#hosts tbody a"]),
}


def say(ok, name, details=()):
    global failures
    print(("ok - " if ok else "not ok - ") + "[%s] %s" % (lang, name))
    if not ok:
        failures += 1
    for d in list(details)[:40]:
        print("#   " + str(d))
    sys.stdout.flush()


def load(p, view):
    url, tok, ready, _ = VIEWS[view]
    if tok is None:  # signed out: the token lives in this tab's sessionStorage
        p.eval("try { sessionStorage.clear(); } catch (e) {}")
    p.goto(url, ready, "%s view" % view)
    p.eval(LIB)


def contrast(p, view, width):
    c = p.eval("__a11y.contrast()")
    m = c["min"]
    mt = c["minText"]
    TOTAL["nodes"] += c["checked"] + c["nontext"]
    for k, v in c["pairs"].items():
        if k not in TOTAL["pairs"] or v["ratio"] < TOTAL["pairs"][k]["ratio"]:
            TOTAL["pairs"][k] = v
    print("# figures %s %s %dpx: %d text nodes, %d marks/boundaries, %d distinct pairs, lowest text %.2f:1 (%s on %s %r),"
          " lowest against its need %.2f:1 (needs %s) %s on %s, %r at %s"
          % (lang, view, width, c["checked"], c["nontext"], c["npairs"], mt["ratio"], mt["fg"], mt["bg"], mt["text"],
             m["ratio"], m["need"], m["fg"], m["bg"], m["text"], m["where"]))
    say(c["checked"] >= 5, "%s %dpx: text nodes found to measure (%d)" % (view, width, c["checked"]))
    say(not c["fails"], "%s %dpx: every text and mark meets WCAG AA contrast (%d pairs)" % (view, width, c["npairs"]),
        ["%.2f:1 < %s:1 %s %s on %s %r at %s" % (f["ratio"], f["need"], f["kind"], f["fg"], f["bg"], f["text"], f["where"]) for f in c["fails"]])
    say(not c["gradients"], "%s %dpx: no background image under text the measure cannot see through" % (view, width), c["gradients"])
    return c


def tab_walk(p, view):
    """Tab from the top to the end of the page: returns the stops"""
    stops, seen, problems = [], set(), []
    # start at the top of the document, wherever the page put the focus
    p.eval("document.body.tabIndex = -1; document.body.focus(); document.body.removeAttribute('tabindex'); window.scrollTo(0, 0)")
    for _ in range(400):
        p.key("Tab")
        f = p.eval("__a11y.focused()")
        if f.get("none"):
            break
        if f["id"] in seen:
            if stops and f["id"] == stops[0]["id"]:
                break  # back at the first stop: wrapped around
            problems.append("focus came back to %s after %d stops without reaching the end (a trap)" % (f["where"], len(stops)))
            break
        seen.add(f["id"])
        f["ax"] = p.ax("document.activeElement")
        stops.append(f)
    else:
        problems.append("400 Tab presses without reaching the end")
    say(not problems, "%s: Tab walks the page from top to end without a trap (%d stops)" % (view, len(stops)), problems)
    invisible = ["%s (under %s)" % (s["where"], s["hit"]) for s in stops if not s["visible"]]
    say(not invisible, "%s: every focused element is on screen and not covered" % view, invisible)
    noring = ["%s%s" % (s["where"], " ring %.2f:1" % s["ringRatio"] if s["ringRatio"] else " no ring")
              for s in stops if not s["ring"] or (s["ringRatio"] is not None and s["ringRatio"] < 3)]
    say(not noring, "%s: every focused element shows a focus ring (3:1 against its surroundings)" % view, noring)
    noname = [s["where"] for s in stops if not (s["ax"] and s["ax"]["name"].strip())]
    noname += ["%s: Copy without saying what" % s["where"] for s in stops
               if "button.copy" in s["where"] and not (s["ax"] and s["ax"]["description"].strip())]
    say(not noname, "%s: every focused element has an accessible name" % view, noname)
    print("#   %s stops: %s" % (view, " | ".join("%s [%s]" % (s["where"].split(" > ")[-1], s["ax"]["name"][:24] if s["ax"] else "?") for s in stops)))
    return stops


def one_view(p, view):
    load(p, view)
    contrast(p, view, 1280)
    # which expected controls the walk reaches
    p.eval("window.__a11yHits = []; document.addEventListener('focusin', function (ev) {"
           " var sels = %s; sels.forEach(function (s, i) { if (ev.target.matches(s)) __a11yHits.push(i); }); }, true)"
           % json.dumps(VIEWS[view][3]))
    tab_walk(p, view)
    hits = set(p.eval("__a11yHits"))
    missing = [s for i, s in enumerate(VIEWS[view][3]) if i not in hits]
    say(not missing, "%s: Tab reaches every expected control" % view, missing)
    lab = p.eval("document.documentElement.lang")
    say(lab == lang, "%s: <html lang> follows the language (%s)" % (view, lab))
    if view in ("host", "portal"):
        charts(p, view)
    if view == "fleet":
        n = p.eval("__a11y.swatches()")
        c = p.eval("(function () { var c = __a11y.contrast(); document.getElementById('a11y-swatches').remove(); return c; })()")
        say(not c["fails"], "every band colour as a badge, a big badge, a dot, a bar, a rating, and as severity/state text meets AA (%d swatch elements)" % n,
            ["%.2f:1 < %s:1 %s %s on %s %r at %s" % (f["ratio"], f["need"], f["kind"], f["fg"], f["bg"], f["text"], f["where"]) for f in c["fails"]])


def charts(p, view):
    """each chart is a figure named by its title and described by a text summary of its lines"""
    n = p.eval("document.querySelectorAll('.chart').length")
    bad = []
    for i in range(n):
        el = "document.querySelectorAll('.chart')[%d]" % i
        a = p.ax(el)
        title = p.eval(el + ".querySelector('h3').textContent")
        series = json.loads(p.eval(el + ".getAttribute('data-series')") or "[]")
        if a["role"] != "figure" or a["name"] != title or not a["description"].strip():
            bad.append("%r: role %s, name %r, description %r" % (title, a["role"], a["name"], a["description"]))
        elif series and series[0]["v"] and title in ("Score", "评分"):
            last = str(int(series[0]["v"][-1]))
            if last not in a["description"]:
                bad.append("%r: the description %r does not give the last value %s" % (title, a["description"], last))
    say(n > 0 and not bad, "%s: %d charts, each a figure with its title and a text summary (last, lowest, highest)" % (view, n), bad)


def main():
    os.makedirs(tmp, exist_ok=True)
    with Browser(chromium, tmp) as b:
        p = b.page(1280, 900)
        for view in ("signin", "fleet", "host", "portal"):
            guard(one_view, p, view)
        for fn, args in ((skip_link, ()), (sort_keys, ()), (focus_kept, ()), (open_host, ("link",)), (open_host, ("Escape",)), (language_switch, ())):
            guard(fn, p, *args)
        guard(narrow, b)
    low = {}
    for k, v in TOTAL["pairs"].items():
        kind = "text" if v["kind"] == "text" else "marks"
        if kind not in low or v["ratio"] < low[kind][0]:
            low[kind] = (v["ratio"], k, v["text"])
    print("# figures %s total: %d measurements, %d distinct colour pairs; lowest %s"
          % (lang, TOTAL["nodes"], len(TOTAL["pairs"]), "; ".join("%s %.2f:1 (%s, %r)" % (kd, r, k, t) for kd, (r, k, t) in sorted(low.items()))))
    print("# %d failed" % failures)
    return 1 if failures else 0


def guard(fn, *args):
    """one path: a page that never gets to a condition fails it, the next goes on"""
    try:
        fn(*args)
    except CDPError as e:
        say(False, "%s: the page did not get there: %s" % (fn.__name__, e))


def skip_link(p):
    load(p, "fleet")
    # the skip link is the first stop and takes the focus to the main content
    p.key("Tab")
    first = p.eval("document.activeElement.id")
    p.key("Enter")
    p.wait("document.activeElement && document.activeElement.id === 'main'", "focus on main after the skip link")
    say(first == "skip", "the first Tab stop is the skip link, Enter moves the focus to the main content (got %s)" % first)


def sort_keys(p):
    load(p, "fleet")
    p.eval("document.querySelector('#hosts th[data-sort=hostname]').focus()")
    p.key("Enter")
    p.wait("document.querySelector('#hosts th[data-sort=hostname]').getAttribute('aria-sort') === 'ascending'", "aria-sort ascending")
    p.key(" ")
    p.wait("document.querySelector('#hosts th[data-sort=hostname]').getAttribute('aria-sort') === 'descending'", "aria-sort descending")
    say(p.eval("document.activeElement.getAttribute('data-sort')") == "hostname",
        "a sortable header sorts with Enter (ascending) and Space (descending), aria-sort says so, the focus stays")


def focus_kept(p):
    """a refresh and a filter re-render the tables and buttons: the focus stays on the same control"""
    load(p, "fleet")
    p.eval("document.querySelector('#hosts tbody a').focus(); window.__a11yOldLink = document.activeElement")
    href = p.eval("document.activeElement.getAttribute('href')")
    p.eval("document.dispatchEvent(new Event('visibilitychange'))")  # what a tab coming back does: refresh
    p.wait("!__a11yOldLink.isConnected && document.activeElement.tagName === 'A'"
           " && document.activeElement.getAttribute('href') === %s && !!document.activeElement.closest('#hosts')" % json.dumps(href),
           "the focus on the host link after a refresh")
    say(True, "a refresh re-renders the hosts table and the focused host link keeps the focus")
    p.eval("document.querySelector('#customers button.cust').focus(); window.__a11yOldCust = document.activeElement")
    p.key("Enter")
    p.wait("!__a11yOldCust.isConnected && document.activeElement.matches('#customers button.cust')"
           " && document.activeElement.getAttribute('aria-pressed') === 'true'", "the focus on the pressed customer filter")
    p.key(" ")
    p.wait("document.activeElement.matches('#customers button.cust') && document.activeElement.getAttribute('aria-pressed') === 'false'",
           "the customer filter released by Space")
    say(True, "a customer filter toggles with Enter and Space, says aria-pressed, and keeps the focus")


def open_host(p, back):
    """open a host from the hosts table with Enter, come back with the back link or Escape"""
    load(p, "fleet")
    for _ in range(200):
        p.key("Tab")
        if p.eval("!!document.activeElement.closest('#hosts tbody') && document.activeElement.tagName === 'A'"):
            break
    name = p.eval("document.activeElement.textContent")
    p.key("Enter")
    p.wait("!document.getElementById('host').hidden && document.querySelector('h1.hostname')", "host page after Enter")
    p.wait("document.activeElement && document.activeElement.id === 'main'", "focus on the main content of the host page")
    h1 = p.eval("document.querySelector('h1.hostname').textContent")
    say(h1 == name, "Enter on the host %r in the hosts table opens its page, the focus goes to it" % name)
    if back == "link":
        p.key("Tab")
        say(p.eval("document.activeElement.id") == "back", "the next Tab stop on the host page is the back link")
        p.key("Enter")
    else:
        p.key("Escape")
    p.wait("!document.getElementById('fleet').hidden && document.getElementById('host').hidden", "fleet after " + back)
    p.wait("document.activeElement && document.activeElement.id === 'main'", "focus on the main content of the fleet")
    say(True, "back to the fleet with the %s, the focus on the main content" % ("back link (Enter)" if back == "link" else "Escape key"))


def language_switch(p):
    """the language switch, by keyboard: the page's texts and <html lang> follow"""
    load(p, "fleet")
    p.eval("document.getElementById('lang').focus()")
    p.key("ArrowDown" if lang == "en" else "ArrowUp")
    p.wait("document.documentElement.lang === %s && document.getElementById('lang').value === %s" % (json.dumps(other), json.dumps(other)), "the other language")
    want = "客户" if other == "zh-CN" else "Customer"
    p.wait("document.querySelector('#hosts th[data-sort=customer]').textContent === %s" % json.dumps(want), "headers in the other language")
    hdr = p.eval("document.querySelector('#hosts th[data-sort=customer]').textContent")
    p.eval("document.getElementById('lang').focus()")
    p.key("ArrowUp" if lang == "en" else "ArrowDown")
    p.wait("document.documentElement.lang === %s" % json.dumps(lang), "back to " + lang)
    say(hdr == want, "the language switch works by keyboard: <html lang=%s>, headers in it (%s), and back" % (other, hdr))


def narrow(b):
    p = b.page(700, 1000)
    for view in ("fleet", "host", "portal"):
        load(p, view)
        sw = p.eval("document.scrollingElement.scrollWidth")
        say(sw <= 700, "%s at 700 px: no horizontal page scroll (scrollWidth %d)" % (view, sw))
        wide = p.eval("[].filter.call(document.querySelectorAll('.uplot'), function (u) { var c = u.closest('.card'); return u.getBoundingClientRect().right > c.getBoundingClientRect().right + 1; }).length")
        say(wide == 0, "%s at 700 px: every chart fits in its card" % view)
        contrast(p, view, 700)
        stops = tab_walk(p, view + " at 700 px")
        if view != "host":
            sorts = [s for s in stops if "th.sort" in s["where"] or "th.num.sort" in s["where"]]
            want = p.eval("document.querySelectorAll('#hosts th.sort').length")
            say(want > 0 and len(sorts) == want, "%s at 700 px: the %d sortable headers are still Tab stops (%d)" % (view, want, len(sorts)))
        if shots:
            p.screenshot(os.path.join(shots, "a11y-700-%s-%s.png" % (view, lang)))
    # charts follow the window: drawn at 1280 px, then the window narrows to 700 px
    p.size(1280, 1000)
    load(p, "host")
    p.size(700, 1000)
    p.wait("[].every.call(document.querySelectorAll('.chart .plot'), function (a) { var u = a.querySelector('.uplot');"
           " return u && Math.abs(u.getBoundingClientRect().width - a.clientWidth) <= 2; })"
           " && document.scrollingElement.scrollWidth <= 700", "charts resized to their boxes at 700 px")
    say(True, "host: charts drawn at 1280 px take their box's new width when the window narrows to 700 px")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except CDPError as e:
        say(False, "the page did not get there: %s" % e)
        sys.exit(1)
