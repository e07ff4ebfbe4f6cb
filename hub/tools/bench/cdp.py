"""A minimal Chrome DevTools Protocol client for the Debian `chromium` (no browser downloads): pages,
JavaScript, screenshots, window sizes (desktop and phone), real key presses, and performance traces
(``Tracing``). The page tests (tests/pages, tests/feeds) and ``hub bench``'s page section both drive
Chromium with it."""

from __future__ import annotations

import base64
import contextlib
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import connect

from hub.platform.kafka.embedded import free_port, stop_process

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1400,1000"]


KEYS = {"Tab": ("Tab", 9, ""), "Enter": ("Enter", 13, "\r"), "Escape": ("Escape", 27, ""), " ": ("Space", 32, " "),
        "ArrowDown": ("ArrowDown", 40, ""), "ArrowUp": ("ArrowUp", 38, ""), "ArrowLeft": ("ArrowLeft", 37, ""),
        "ArrowRight": ("ArrowRight", 39, ""), "Home": ("Home", 36, ""), "End": ("End", 35, "")}

PUNCTUATION = {".": ("Period", 190, "."), "/": ("Slash", 191, "/"), "-": ("Minus", 189, "-"),
               ",": ("Comma", 188, ","), ":": ("Semicolon", 186, ":")}


class Browser:
    def __init__(self) -> None:
        self.port = free_port()
        self.profile = tempfile.mkdtemp(prefix="hub-chromium-")
        self.proc = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={self.profile}", f"--remote-debugging-port={self.port}",
             "--remote-allow-origins=*", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        ws_url = None
        while ws_url is None:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError("chromium did not start its DevTools endpoint")
            try:
                pages = httpx.get(f"http://127.0.0.1:{self.port}/json/list", timeout=1).json()
                ws_url = next((p["webSocketDebuggerUrl"] for p in pages if p["type"] == "page"), None)
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.ws = connect(ws_url, max_size=50 * 1024 * 1024, open_timeout=10)
        self._id = 0
        self.console: list[str] = []
        self.listeners: dict[str, Callable[[dict[str, Any]], None]] = {}
        self.call("Page.enable")
        self.call("Runtime.enable")

    def send(self, method: str, **params: Any) -> int:
        """Send one command; its answer is read by :meth:`answer` (the page runs meanwhile)."""
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        return self._id

    def answer(self, my: int, method: str = "", timeout: float = 30) -> dict[str, Any]:
        """The answer to command ``my``; events read meanwhile go to the console list or to
        ``self.listeners`` (by event name)."""
        while True:
            msg = json.loads(self.ws.recv(timeout=timeout))
            if msg.get("id") == my:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg["result"]
            self._event(msg)

    def _event(self, msg: dict[str, Any]) -> None:
        name = msg.get("method")
        if name == "Runtime.consoleAPICalled":
            self.console.append(" ".join(str(a.get("value")) for a in msg["params"]["args"]))
        elif name == "Runtime.exceptionThrown":
            self.console.append("EXCEPTION " + json.dumps(msg["params"]["exceptionDetails"])[:500])
        if name in self.listeners:
            self.listeners[name](msg.get("params") or {})

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        return self.answer(self.send(method, **params), method)

    def trace(self, categories: str) -> Callable[[], list[dict[str, Any]]]:
        """Start a performance trace (``Tracing.start``); the returned function ends it and gives its
        events (``Tracing.dataCollected`` until ``Tracing.tracingComplete``)."""
        events: list[dict[str, Any]] = []
        done: list[bool] = []
        self.listeners["Tracing.dataCollected"] = lambda p: events.extend(p.get("value") or [])
        self.listeners["Tracing.tracingComplete"] = lambda _p: done.append(True)
        self.call("Tracing.start", categories=categories, transferMode="ReportEvents")

        def end() -> list[dict[str, Any]]:
            self.call("Tracing.end")
            deadline = time.monotonic() + 120
            while not done:
                if time.monotonic() > deadline:
                    raise RuntimeError("the trace did not complete")
                self._event(json.loads(self.ws.recv(timeout=60)))
            self.listeners.pop("Tracing.dataCollected", None)
            self.listeners.pop("Tracing.tracingComplete", None)
            return events
        return end

    def js(self, expression: str) -> Any:
        # a block, so that `const` declarations of separate calls do not collide
        r = self.call("Runtime.evaluate", expression="{" + expression + "}", returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expression}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def wait(self, expression: str, timeout: float = 30, what: str = "") -> Any:
        """Poll a JS expression until truthy (a hang guard, not a performance assertion)."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.js(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what or expression}; console: {self.console}")
            time.sleep(0.1)

    def goto(self, url: str) -> None:
        self.call("Page.navigate", url=url)
        self.wait("document.readyState === 'complete'", what="page load")

    def size(self, width: int, height: int, mobile: bool = False) -> None:
        """Emulate a window of ``width``×``height`` CSS pixels (``mobile``: a phone's viewport and touch)."""
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=mobile)
        self.call("Emulation.setTouchEmulationEnabled", enabled=mobile)

    def press(self, key: str, shift: bool = False) -> None:
        """A real key press (keyDown, keyUp) as the focused element gets it: Tab, Enter, Escape, Arrow*,
        Home, End, a space or one character."""
        if key in KEYS:
            code, vk, text = KEYS[key]
        elif key.isdigit():
            code, vk, text = f"Digit{key}", ord(key), key
        elif key.isascii() and key.isalpha():
            code, vk, text = f"Key{key.upper()}", ord(key.upper()), key
        else:  # punctuation: its own key code (ord('.') is 46, the Delete key's)
            code, vk, text = PUNCTUATION.get(key, ("", 0, key))
        common = {"key": key, "code": code, "windowsVirtualKeyCode": vk, "modifiers": 8 if shift else 0}
        self.call("Input.dispatchKeyEvent", type="keyDown" if text else "rawKeyDown", text=text, **common)
        self.call("Input.dispatchKeyEvent", type="keyUp", **common)

    def focused(self) -> str:
        """What has the focus: ``tag#id.class[data-item]`` (enough to tell the page's elements apart)."""
        return str(self.js("const a = document.activeElement;"
                           "a ? a.tagName.toLowerCase() + (a.id ? '#' + a.id : '') + (a.className && typeof a.className === 'string'"
                           " ? '.' + a.className.trim().split(/\\s+/).join('.') : '') + (a.dataset && a.dataset.item ? "
                           "'[' + a.dataset.item + ']' : '') : ''"))

    def screenshot(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.ws.close()
        stop_process(self.proc)
        shutil.rmtree(self.profile, ignore_errors=True)
