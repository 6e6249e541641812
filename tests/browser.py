"""Headless Chromium for the page tests: the rendered DOM, screenshots, and every request made.

Chromium runs with a proxy that is a local HTTP server counting the requests it gets, so
any resource a page tried to load from the network (http, https via CONNECT) is recorded
instead of fetched. Background traffic of the browser itself is switched off by flags.
"""

from __future__ import annotations

import contextlib
import html.parser
import os
import shutil
import socketserver
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "chrome")
#: Hosts the browser calls by itself (updates, clock, sign-in), whatever the page: not the page's requests.
BROWSER_SERVICES = ("update.googleapis.com", "clients2.google.com", "accounts.google.com",
                    "optimizationguide-pa.googleapis.com", "content-autofill.googleapis.com",
                    "safebrowsingohttpgateway.googleapis.com", "redirector.gvt1.com")
_QUIET = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
          "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
          "--disable-component-update", "--disable-sync", "--disable-default-apps", "--disable-extensions",
          "--disable-domain-reliability", "--disable-client-side-phishing-detection", "--mute-audio",
          "--disable-features=Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider,NetworkTimeServiceQuerying",
          "--metrics-recording-only", "--password-store=basic", "--use-mock-keychain"]


def chromium() -> str:
    """The browser's path; skips the test when there is none (CI installs it: a missing one fails there)."""
    path = os.environ.get("LSSBENCH_CHROMIUM") or next(filter(None, map(shutil.which, CANDIDATES)), None)
    if path:
        return path
    if os.environ.get("CI"):
        pytest.fail("headless Chromium is required on CI (.ci/run installs Debian's chromium)")
    pytest.skip("no headless Chromium (apt-get install chromium) for the browser tests")


class _Recorder(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True

    def __init__(self):
        self.requests: list[str] = []

        class Handler(socketserver.StreamRequestHandler):
            def handle(handler):
                line = handler.rfile.readline(4096).decode("latin-1").strip()
                target = line.split(" ")[1] if line.count(" ") >= 2 else line
                host = target.split("://")[-1].split("/")[0].split(":")[0]
                if line and host not in BROWSER_SERVICES:
                    self.requests.append(line)
                handler.wfile.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

        super().__init__(("127.0.0.1", 0), Handler)


@contextlib.contextmanager
def recording_proxy():
    """A local proxy that answers 404 to everything and records each request line."""
    server = _Recorder()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _run(args: list[str], proxy_port: int, timeout: float = 90) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="lssbench-chromium-") as profile:
        command = [chromium(), *_QUIET, f"--user-data-dir={profile}",
                   f"--proxy-server=http://127.0.0.1:{proxy_port}", "--proxy-bypass-list=<-loopback>",
                   "--virtual-time-budget=3000", *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "HOME": profile})


def load(page: Path) -> tuple[str, list[str]]:
    """``(rendered DOM, requests sent to the network)`` of the page at ``page``."""
    with recording_proxy() as proxy:
        done = _run(["--dump-dom", Path(page).resolve().as_uri()], proxy.server_address[1])
        requests = list(proxy.requests)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, requests


def screenshot(page: Path, out: Path, width: int, height: int) -> list[str]:
    """Write a PNG of the page at a ``width`` x ``height`` window; returns the network requests."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with recording_proxy() as proxy:
        done = _run([f"--window-size={width},{height}", f"--screenshot={out}", Path(page).resolve().as_uri()],
                    proxy.server_address[1])
        requests = list(proxy.requests)
    assert done.returncode == 0 and out.is_file(), done.stderr[-2000:]
    return requests


class Dom(html.parser.HTMLParser):
    """What the tests look at in a dumped DOM: tags, attributes with URLs, text."""

    URL_ATTRIBUTES = ("src", "href", "xlink:href", "srcset", "poster", "data", "action", "formaction")

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []  # text nodes outside <style>
        self.styles: list[str] = []  # the CSS of every <style> element
        self._in_style = 0
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {k: (v or "") for k, v in attrs}))
        self._in_style += tag == "style"

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, {k: (v or "") for k, v in attrs}))

    def handle_endtag(self, tag):
        self._in_style -= tag == "style" and self._in_style > 0

    def handle_data(self, data):
        (self.styles if self._in_style else self.text).append(data)

    def all_text(self) -> str:
        return " ".join(" ".join(self.text).split())

    def count(self, tag: str) -> int:
        return sum(1 for t, _ in self.tags if t == tag)

    def external_references(self) -> list[tuple[str, str, str]]:
        """``(tag, attribute, value)`` of every reference a browser would fetch by itself:
        anything but a link the reader clicks (``<a href>``), a data: URI or a #fragment."""
        found = []
        for tag, attrs in self.tags:
            for name in self.URL_ATTRIBUTES:
                value = attrs.get(name, "").strip()
                if not value or (tag == "a" and name == "href"):
                    continue
                if not (value.startswith("#") or value.startswith("data:")):
                    found.append((tag, name, value))
            if "url(" in attrs.get("style", ""):
                found.append((tag, "style", attrs["style"]))
        found += [("style", "css", css) for css in self.styles if "url(" in css or "@import" in css]
        return found
