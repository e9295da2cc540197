# SPDX-License-Identifier: MIT
# A small W3C WebDriver client (urllib only) for Debian's headless
# Chromium: starts /usr/bin/chromedriver on a free loopback port with a
# temp user-data-dir, opens one session, and offers the few commands the
# dashboard's tests and benchmark use. Every call has a timeout.

import base64
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

CHROMIUM = os.environ.get("KICK_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("KICK_CHROMEDRIVER", "/usr/bin/chromedriver")
# The key WebDriver sends for Enter and Tab (W3C WebDriver, "Keys").
ENTER = "\ue007"
TAB = "\ue004"
# An element reference's key in the protocol's JSON.
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"


class WebDriverError(Exception):
    """An error answer of chromedriver: .error is the protocol's code
    ("no such element", "no such alert", ...)."""

    def __init__(self, error, message):
        super().__init__("%s: %s" % (error, message))
        self.error = error


def missing():
    """A sentence naming what is not installed, or None."""
    lack = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if not lack:
        return None
    return ("%s not installed: the dashboard's browser tests need Debian's "
            "chromium and chromium-driver (make check installs them from "
            ".ci/deps; or apt-get install chromium chromium-driver)"
            % " and ".join(lack))


def _free_port():
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


class Browser:
    """chromedriver and one headless Chromium session. A context manager;
    quit() ends both and removes the temp profile."""

    def __init__(self, width=1280, height=900):
        why = missing()
        if why:
            raise AssertionError(why)
        self.tmp = tempfile.mkdtemp(prefix="kick-chromium-")
        self.port = _free_port()
        self.log = open(os.path.join(self.tmp, "chromedriver.log"), "wb")
        self.proc = subprocess.Popen(
            [CHROMEDRIVER, "--port=%d" % self.port],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        self.base = "http://127.0.0.1:%d" % self.port
        self.sid = None
        try:
            self._wait_ready()
            caps = {"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "pageLoadStrategy": "normal",
                "unhandledPromptBehavior": "ignore",
                "goog:loggingPrefs": {"browser": "ALL"},
                "goog:chromeOptions": {
                    "binary": CHROMIUM,
                    "args": ["--headless=new", "--no-sandbox",
                             "--disable-dev-shm-usage", "--disable-gpu",
                             "--window-size=%d,%d" % (width, height),
                             "--user-data-dir=" +
                             os.path.join(self.tmp, "profile"),
                             "--no-first-run", "--no-default-browser-check",
                             "--disable-extensions",
                             "--disable-background-networking",
                             "--disable-component-update",
                             "--disable-sync", "--lang=en-US"],
                }}}}
            v = self._call("POST", "/session", caps, timeout=60)
            self.sid = v["sessionId"]
        except BaseException:
            self.quit()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.quit()
        return False

    def _wait_ready(self):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("chromedriver exited at start (%d)"
                                     % self.proc.returncode)
            try:
                v = self._call("GET", "/status", timeout=2)
                if v.get("ready"):
                    return
            except (OSError, WebDriverError):
                pass
            time.sleep(0.05)
        raise AssertionError("chromedriver did not answer within 20 s")

    def _call(self, method, path, body=None, timeout=30):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data,
                                     method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                text = r.read()
        except urllib.error.HTTPError as e:
            text = e.read()
            try:
                v = json.loads(text)["value"]
            except (ValueError, KeyError, TypeError):
                raise WebDriverError("http %d" % e.code, text[:300])
            raise WebDriverError(v.get("error", "?"),
                                 (v.get("message") or "")[:500])
        return json.loads(text)["value"]

    def cmd(self, method, path, body=None, timeout=30):
        """A command of this session: path below /session/ID."""
        return self._call(method, "/session/%s%s" % (self.sid, path), body,
                          timeout)

    def quit(self):
        try:
            if self.sid:
                self._call("DELETE", "/session/" + self.sid, timeout=15)
        except (OSError, WebDriverError):
            pass
        self.sid = None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # Navigation and scripts.

    def get(self, url):
        """Loads url and waits for its load event."""
        self.cmd("POST", "/url", {"url": url}, timeout=60)

    def back(self):
        self.cmd("POST", "/back", {})

    def js(self, script, *args):
        """Runs script (a function body; arguments[i] are args) and returns
        its value; elements come back as element references."""
        return self.cmd("POST", "/execute/sync",
                        {"script": script, "args": list(args)})

    def js_async(self, script, *args, timeout=30):
        """Runs script with a callback as its last argument."""
        return self.cmd("POST", "/execute/async",
                        {"script": script, "args": list(args)},
                        timeout=timeout + 5)

    def cdp(self, command, params=None):
        """A Chrome DevTools Protocol command (chromedriver's extension)."""
        return self.cmd("POST", "/goog/cdp/execute",
                        {"cmd": command, "params": params or {}})

    def wait(self, script, *args, timeout=5.0, what=None):
        """Polls script until it returns a true value; returns it. Fails
        with what (or the script) after timeout seconds."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            last = self.js(script, *args)
            if last:
                return last
            if time.monotonic() > deadline:
                raise AssertionError("not within %.1f s: %s (last %r)"
                                     % (timeout, what or script, last))
            time.sleep(0.05)

    # Elements.

    def find(self, css, timeout=5.0):
        """The first element matching css, waited for; its reference."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                v = self.cmd("POST", "/element",
                             {"using": "css selector", "value": css})
                return v[ELEMENT]
            except WebDriverError as e:
                if e.error != "no such element" or \
                        time.monotonic() > deadline:
                    raise
            time.sleep(0.05)

    def click(self, el):
        self.cmd("POST", "/element/%s/click" % el, {})

    def keys(self, el, text):
        """Types text into el (which gets focus first)."""
        self.cmd("POST", "/element/%s/value" % el, {"text": text})

    def press(self, *keys):
        """Presses and releases keys on whatever has focus."""
        acts = []
        for k in keys:
            acts += [{"type": "keyDown", "value": k},
                     {"type": "keyUp", "value": k}]
        self.cmd("POST", "/actions", {"actions": [
            {"type": "key", "id": "keyboard", "actions": acts}]})
        self.cmd("DELETE", "/actions")

    def alert_text(self):
        """The open alert's text, or None if there is none."""
        try:
            return self.cmd("GET", "/alert/text")
        except WebDriverError as e:
            if e.error == "no such alert":
                return None
            raise

    # Window and pictures.

    def size(self, width, height):
        """Sets the viewport to width x height CSS pixels (the window's
        frame, if any, is added)."""
        self.cmd("POST", "/window/rect", {"width": width, "height": height})
        inner = self.js("return [window.innerWidth, window.innerHeight]")
        dw, dh = width - inner[0], height - inner[1]
        if dw or dh:
            self.cmd("POST", "/window/rect",
                     {"width": width + dw, "height": height + dh})

    def screenshot(self, path):
        """Saves the viewport as a PNG at path."""
        png = base64.b64decode(self.cmd("GET", "/screenshot"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(png)
        return path

    def full_screenshot(self, path):
        """Saves the whole page (not only the viewport) as a PNG, through
        DevTools' capture beyond the viewport."""
        width, height = self.js(
            "return [window.innerWidth, "
            "document.documentElement.scrollHeight]")
        v = self.cdp("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": height,
                     "scale": 1}})
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(base64.b64decode(v["data"]))
        return path

    def console(self):
        """The browser console's entries since the last call
        ([{"level", "message"}]), from chromedriver's log."""
        try:
            return self.cmd("POST", "/se/log", {"type": "browser"})
        except WebDriverError:
            return []
