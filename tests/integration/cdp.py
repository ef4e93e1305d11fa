"""A small Chrome DevTools Protocol client over --remote-debugging-pipe
(no WebSocket library, no browser download: Debian's chromium and Python's
standard library only). Used by the dashboard's accessibility test
(72-dashboard-a11y.sh, dashboard-a11y.py).

    with Browser("/usr/bin/chromium", tmpdir) as b:
        page = b.page(1280, 900)
        page.goto(url, "document.querySelector('h1')")
        page.key("Tab")
        page.eval("document.activeElement.id")

Every wait is on a condition of the page (a JavaScript expression polled
until it is true, with a deadline), never on a fixed sleep."""
import base64
import fcntl
import json
import os
import queue
import subprocess
import threading
import time

KEYS = {  # key: (code, windowsVirtualKeyCode, text)
    "Tab": ("Tab", 9, None),
    "Enter": ("Enter", 13, "\r"),
    " ": ("Space", 32, " "),
    "Escape": ("Escape", 27, None),
    "ArrowDown": ("ArrowDown", 40, None),
    "ArrowUp": ("ArrowUp", 38, None),
}


class CDPError(Exception):
    pass


class Browser:
    def __init__(self, chromium, tmpdir, timeout=45):
        self.timeout = timeout
        cmd_r, cmd_w = os.pipe()  # we write commands, chromium reads fd 3
        ev_r, ev_w = os.pipe()  # chromium writes fd 4, we read
        hi_r = fcntl.fcntl(cmd_r, fcntl.F_DUPFD_CLOEXEC, 10)
        hi_w = fcntl.fcntl(ev_w, fcntl.F_DUPFD_CLOEXEC, 10)

        def child_fds():
            os.dup2(hi_r, 3)  # dup2 leaves the new descriptors inheritable
            os.dup2(hi_w, 4)

        env = dict(os.environ, HOME=tmpdir)
        self.log = open(tmpdir + "/chromium.log", "w")
        self.proc = subprocess.Popen(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
             "--hide-scrollbars", "--remote-debugging-pipe", "--user-data-dir=" + tmpdir + "/profile",
             "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.log,
            preexec_fn=child_fds, close_fds=False, env=env)
        for fd in (cmd_r, ev_w, hi_r, hi_w):
            os.close(fd)
        self.out = os.fdopen(cmd_w, "wb", buffering=0)
        self.inp = os.fdopen(ev_r, "rb", buffering=0)
        self.lock = threading.Lock()
        self.next_id = 0
        self.waiting = {}
        self.events = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        buf = b""
        while True:
            chunk = self.inp.read(65536)
            if not chunk:
                break
            buf += chunk
            while b"\0" in buf:
                msg, buf = buf.split(b"\0", 1)
                m = json.loads(msg)
                if "id" in m:
                    with self.lock:
                        q = self.waiting.pop(m["id"], None)
                    if q:
                        q.put(m)
                else:
                    self.events.put(m)
        with self.lock:  # chromium went away: wake everyone
            for q in self.waiting.values():
                q.put({"error": {"message": "chromium exited"}})
            self.waiting.clear()

    def send(self, method, params=None, session=None):
        q = queue.Queue()
        with self.lock:
            self.next_id += 1
            i = self.next_id
            self.waiting[i] = q
        m = {"id": i, "method": method, "params": params or {}}
        if session:
            m["sessionId"] = session
        self.out.write(json.dumps(m).encode() + b"\0")
        try:
            r = q.get(timeout=self.timeout)
        except queue.Empty:
            raise CDPError("%s: no answer in %d s" % (method, self.timeout))
        if "error" in r:
            raise CDPError("%s: %s" % (method, r["error"].get("message")))
        return r.get("result", {})

    def page(self, width, height):
        tid = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        sid = self.send("Target.attachToTarget", {"targetId": tid, "flatten": True})["sessionId"]
        p = Page(self, sid)
        p.send("Page.enable")
        p.send("Runtime.enable")
        p.send("Emulation.setFocusEmulationEnabled", {"enabled": True})
        p.size(width, height)
        return p

    def close(self):
        try:
            self.send("Browser.close")
        except CDPError:
            pass
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Page:
    def __init__(self, browser, session):
        self.b = browser
        self.session = session

    def send(self, method, params=None):
        return self.b.send(method, params, self.session)

    def size(self, width, height):
        self.width = width
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})

    def eval(self, expr):
        r = self.send("Runtime.evaluate", {"expression": expr, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            raise CDPError("%s: %s" % (expr[:60], d.get("exception", {}).get("description", d.get("text"))))
        return r["result"].get("value")

    def handle(self, expr):
        """a remote object id for an element (for the accessibility tree)"""
        r = self.send("Runtime.evaluate", {"expression": expr})
        return r["result"].get("objectId")

    def ax(self, expr):
        """the accessibility node Chromium computes for an element: role, name, description"""
        oid = self.handle(expr)
        if not oid:
            return None
        nodes = self.send("Accessibility.getPartialAXTree", {"objectId": oid, "fetchRelatives": False})["nodes"]
        n = nodes[0] if nodes else {}
        val = lambda k: (n.get(k) or {}).get("value", "")
        return {"role": val("role"), "name": val("name"), "description": val("description"), "ignored": n.get("ignored", False)}

    def wait(self, cond, what=None, timeout=None):
        """polls a JavaScript condition until it is true; raises after the deadline"""
        end = time.monotonic() + (timeout or self.b.timeout)
        last = None
        while time.monotonic() < end:
            try:
                v = self.eval("!!(" + cond + ")")
                if v:
                    return
            except CDPError as e:  # the document is being replaced
                last = e
            time.sleep(0.05)
        raise CDPError("timed out waiting for %s%s" % (what or cond, " (%s)" % last if last else ""))

    def goto(self, url, ready, what=None):
        """loads url in this tab and waits for the page condition ready"""
        self.send("Page.navigate", {"url": "about:blank"})  # a new document even if only the fragment differs
        self.wait("location.href === 'about:blank' && document.readyState === 'complete'", "about:blank")
        self.send("Page.navigate", {"url": url})
        self.wait("location.href !== 'about:blank' && document.readyState === 'complete' && (" + ready + ")", what or url)

    def key(self, key, shift=False):
        code, vk, text = KEYS[key]
        ev = {"key": key, "code": code, "windowsVirtualKeyCode": vk, "nativeVirtualKeyCode": vk,
              "modifiers": 8 if shift else 0}
        down = dict(ev, type="keyDown" if text else "rawKeyDown")
        if text and not shift:
            down["text"] = down["unmodifiedText"] = text
        self.send("Input.dispatchKeyEvent", down)
        self.send("Input.dispatchKeyEvent", dict(ev, type="keyUp"))

    def screenshot(self, path, full=False):
        clip = None
        if full:
            m = self.send("Page.getLayoutMetrics")["cssContentSize"]
            clip = {"x": 0, "y": 0, "width": self.width, "height": min(m["height"], 6000), "scale": 1}
        params = {"format": "png", "captureBeyondViewport": bool(full)}
        if clip:
            params["clip"] = clip
        with open(path, "wb") as f:
            f.write(base64.b64decode(self.send("Page.captureScreenshot", params)["data"]))
