"""Open a page in headless Chromium over the DevTools protocol (CDP) on a pipe — stdlib only.

Chromium started with ``--remote-debugging-pipe`` reads protocol commands from fd 3 and writes
responses and events to fd 4, each message a JSON object followed by a NUL byte. `load_page`
starts a browser with a fresh profile, attaches to a new tab, enables the Page, Runtime and Log
domains, navigates to the URL, waits until the document (images included) has loaded, and returns what a person would see
wrong: every <img> (src, complete, naturalWidth, naturalHeight), every console error, uncaught
exception and browser log error (a resource that failed to load is one), and optionally a
full-page screenshot (PNG bytes).
"""
from __future__ import annotations

import base64
import fcntl
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--remote-debugging-pipe"]
CANDIDATES = ("chromium", "chromium-browser", "chromium-headless-shell", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class PageResult:
    images: list[dict[str, Any]]
    errors: list[str] = field(default_factory=list)
    screenshot: bytes | None = None


class _Pipe:
    def __init__(self, binary: str, profile: str, width: int):
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def child() -> None:  # runs in the child between fork and exec: fds 3 and 4 are the protocol
            # first out of the way (a pipe end may itself be fd 3 or 4), then onto 3 and 4: dup2
            # between different numbers leaves the copies inheritable across exec
            high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_chrome_r, from_chrome_w)]
            os.dup2(high[0], 3)
            os.dup2(high[1], 4)

        self.proc = subprocess.Popen([binary, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},900",
                                      "about:blank"], preexec_fn=child, close_fds=False,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.messages: queue.Queue = queue.Queue()
        self._next = 0
        threading.Thread(target=self._read, daemon=True).start()
        self.stderr: list[bytes] = []
        threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr), daemon=True).start()

    def _read(self) -> None:
        buffer = b""
        while True:
            chunk = os.read(self._from_chrome, 1 << 16)
            if not chunk:
                self.messages.put(None)
                return
            buffer += chunk
            while b"\0" in buffer:
                raw, buffer = buffer.split(b"\0", 1)
                self.messages.put(json.loads(raw))

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> int:
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        return self._next

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_chrome)


def load_page(url: str, *, binary: str, timeout: float = 60.0, width: int = 1200,
              screenshot: bool = False) -> PageResult:
    """Load `url` and report its images and errors (see the module docstring)."""
    profile = tempfile.mkdtemp(prefix="trainwell-chromium-")
    pipe = _Pipe(binary, profile, width)
    errors: list[str] = []
    deadline = time.monotonic() + timeout

    def wait(predicate) -> dict:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"Chromium did not answer in {timeout} s; stderr: "
                                   f"{b''.join(pipe.stderr)[-2000:].decode(errors='replace')}")
            try:
                message = pipe.messages.get(timeout=left)
            except queue.Empty:
                continue
            if message is None:
                raise RuntimeError("Chromium closed the pipe; stderr: "
                                   f"{b''.join(pipe.stderr)[-2000:].decode(errors='replace')}")
            _collect(message, errors)
            if predicate(message):
                if "error" in message:
                    raise RuntimeError(f"CDP error: {message['error']}")
                return message

    def call(method: str, params: dict | None = None, session: str | None = None) -> dict:
        sent = pipe.send(method, params, session)
        return wait(lambda m: m.get("id") == sent).get("result", {})

    try:
        target = call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            call(f"{domain}.enable", session=session)
        call("Page.navigate", {"url": url}, session)
        ready = "document.readyState === 'complete' && location.href !== 'about:blank'"
        while not call("Runtime.evaluate", {"expression": ready, "returnByValue": True}, session)["result"]["value"]:
            time.sleep(0.05)  # polled: an event could come before we wait for it
        script = ("JSON.stringify(Array.from(document.images).map(i => ({src: i.getAttribute('src'), "
                  "complete: i.complete, naturalWidth: i.naturalWidth, naturalHeight: i.naturalHeight})))")
        value = call("Runtime.evaluate", {"expression": script, "returnByValue": True}, session)["result"]["value"]
        result = PageResult(json.loads(value), errors)
        if screenshot:
            size = call("Page.getLayoutMetrics", session=session)["cssContentSize"]
            shot = call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                                   "clip": {"x": 0, "y": 0, "width": size["width"],
                                                            "height": size["height"], "scale": 1}}, session)
            result.screenshot = base64.b64decode(shot["data"])
        time.sleep(0.2)  # late console messages of the load
        while not pipe.messages.empty():
            message = pipe.messages.get_nowait()
            if message is not None:
                _collect(message, errors)
        return result
    finally:
        pipe.close()
        shutil.rmtree(profile, ignore_errors=True)


def _collect(message: dict, errors: list[str]) -> None:
    method, params = message.get("method"), message.get("params", {})
    if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
        errors.append("console: " + " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
    elif method == "Runtime.exceptionThrown":
        details = params.get("exceptionDetails", {})
        errors.append("exception: " + str(details.get("exception", {}).get("description", details.get("text"))))
    elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
        entry = params["entry"]
        errors.append(f"log ({entry.get('source')}): {entry.get('text')} {entry.get('url', '')}".strip())
