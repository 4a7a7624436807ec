"""Opens a page in headless Chromium over the DevTools protocol: errors, broken images, screenshot.

Why the DevTools protocol and not `chromium --screenshot`: the check needs
what only a live page knows, i.e. console errors, resources that failed to
load, and each <img>'s decoded size (naturalWidth 0 = a missing or broken
image), and a full-page screenshot. Chromium is the Debian package
(`apt-get install chromium`, done by `make install`); the client is
websocket-client. Chromium runs with a fresh profile and everything that
would reach the network switched off, so it works on a closed machine.

    python -m pipelines.report.browser RUN_DIR/report/index.html --screenshot shot.png
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import io
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from typing import Any, Dict, List, Optional

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
)
# Every <img> that has not decoded to a picture: missing file, bad data URI, undecodable bytes.
BROKEN_IMAGES_JS = """
Promise.all(Array.from(document.images).map(img =>
  (img.complete ? Promise.resolve() : new Promise(done => { img.onload = img.onerror = done; }))
    .then(() => (img.naturalWidth > 0 ? null
                 : (img.getAttribute('alt') || '') + ' <' + (img.getAttribute('src') || '').slice(0, 80) + '>'))
)).then(found => JSON.stringify({images: document.images.length, broken: found.filter(x => x !== null)}))
"""


@dataclasses.dataclass
class PageCheck:
    """What a page did while loading.

    Attributes:
      console_errors: console.error/assert calls, uncaught exceptions, and
        browser log errors (e.g. "Failed to load resource").
      failed_requests: URLs the page asked for that did not load.
      broken_images: <img> elements with naturalWidth 0 (alt and src start).
      image_count: <img> elements on the page.
      screenshot: PNG bytes of the page (full height up to `max_height`).
    """

    console_errors: List[str]
    failed_requests: List[str]
    broken_images: List[str]
    image_count: int
    screenshot: bytes

    @property
    def ok(self) -> bool:
        return not (self.console_errors or self.failed_requests or self.broken_images)


def find_chromium() -> str:
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    raise FileNotFoundError(
        "No Chromium found (looked for " + ", ".join(CHROMIUM_NAMES) + "); on Debian: apt-get install -y chromium "
        "(make install does it)."
    )


class _DevTools:
    """A minimal DevTools-protocol session on one page target."""

    def __init__(self, websocket_url: str, timeout: float):
        import websocket  # websocket-client

        self._socket = websocket.create_connection(websocket_url, timeout=timeout, suppress_origin=True)
        self._next_id = 0
        self.events: List[Dict[str, Any]] = []

    def call(self, method: str, params: Optional[Dict[str, Any]] = None, timeout: float = 60.0) -> Dict[str, Any]:
        self._next_id += 1
        call_id = self._next_id
        self._socket.send(json.dumps({"id": call_id, "method": method, "params": params or {}}))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = json.loads(self._socket.recv())
            if message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(f"DevTools {method} failed: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self.events.append(message)
        raise TimeoutError(f"DevTools {method} got no answer in {timeout:.0f} s.")

    def wait_for(self, event: str, timeout: float) -> None:
        if any(item["method"] == event for item in self.events):
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = json.loads(self._socket.recv())
            if "method" in message:
                self.events.append(message)
                if message["method"] == event:
                    return
        raise TimeoutError(f"The page fired no {event} in {timeout:.0f} s.")

    def close(self) -> None:
        self._socket.close()


def _wait_for_port(profile: str, process: subprocess.Popen, timeout: float) -> int:
    marker = os.path.join(profile, "DevToolsActivePort")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Chromium exited with code {process.returncode} before opening its DevTools port.")
        if os.path.exists(marker):
            with open(marker) as handle:
                first = handle.readline().strip()
            if first.isdigit():
                return int(first)
        time.sleep(0.1)
    raise TimeoutError(f"Chromium opened no DevTools port in {timeout:.0f} s.")


def _page_websocket(port: int, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as response:
            targets = json.loads(response.read())
        pages = [target for target in targets if target.get("type") == "page"]
        if pages:
            return pages[0]["webSocketDebuggerUrl"]
        time.sleep(0.1)
    raise TimeoutError("Chromium has no page target.")


def _errors(events: List[Dict[str, Any]]) -> List[str]:
    errors = []
    for event in events:
        method, params = event["method"], event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            values = (str(arg.get("value", arg.get("description", ""))) for arg in params.get("args", []))
            errors.append("console: " + " ".join(values))
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            errors.append("exception: " + str(details.get("exception", {}).get("description") or details.get("text")))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            errors.append(f"log: {entry.get('text')} {entry.get('url', '')}".strip())
    return errors


def _failed_requests(events: List[Dict[str, Any]]) -> List[str]:
    urls = {event["params"]["requestId"]: event["params"]["request"]["url"]
            for event in events if event["method"] == "Network.requestWillBeSent"}
    return [f"{urls.get(event['params']['requestId'], '?')[:120]}: {event['params'].get('errorText')}"
            for event in events if event["method"] == "Network.loadingFailed"]


def check_page(path_or_url: str, width: int = 1280, max_height: int = 20000, timeout: float = 90.0) -> PageCheck:
    """Loads a page in headless Chromium and reports errors, broken images and a screenshot.

    Args:
      path_or_url: an HTML file path or a URL.
      width: viewport width in CSS pixels.
      max_height: the screenshot's height is the page's, capped here.
    """
    url = path_or_url if "://" in path_or_url else "file://" + os.path.abspath(path_or_url)
    profile = tempfile.mkdtemp(prefix="report-chromium-")
    command = [find_chromium(), *CHROMIUM_FLAGS, "--remote-debugging-port=0", f"--user-data-dir={profile}",
               f"--window-size={width},900", "about:blank"]
    log = open(os.path.join(profile, "chromium.log"), "wb")  # Local file: Chromium's own stderr.
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    session = None
    try:
        port = _wait_for_port(profile, process, timeout)
        session = _DevTools(_page_websocket(port, timeout), timeout)
        for domain in ("Page", "Runtime", "Log", "Network"):
            session.call(f"{domain}.enable")
        session.call("Emulation.setDeviceMetricsOverride",
                     {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False})
        session.call("Page.navigate", {"url": url})
        session.wait_for("Page.loadEventFired", timeout)
        result = session.call("Runtime.evaluate", {"expression": BROKEN_IMAGES_JS, "awaitPromise": True,
                                                   "returnByValue": True}, timeout)
        images = json.loads(result["result"]["value"])
        metrics = session.call("Page.getLayoutMetrics")
        content = metrics.get("cssContentSize") or metrics["contentSize"]
        height = int(min(max_height, max(1, content["height"])))
        shot = session.call("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
        }, timeout)
        return PageCheck(_errors(session.events), _failed_requests(session.events), images["broken"],
                         images["images"], base64.b64decode(shot["data"]))
    finally:
        if session is not None:
            session.close()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        shutil.rmtree(profile, ignore_errors=True)


def pixel_spread(png: bytes) -> float:
    """Standard deviation of the grayscale pixels: ~0 for a blank (single-colour) picture."""
    import numpy as np
    from PIL import Image

    return float(np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=np.float32).std())


def save_screenshot(
    png: bytes, path: str, height: Optional[int] = None, scale: float = 1.0, colors: Optional[int] = None
) -> str:
    """Writes the screenshot (optionally its top `height` pixels, scaled; `colors` quantizes) as an optimized PNG."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    if height:
        image = image.crop((0, 0, image.width, min(height, image.height)))
    if scale != 1.0:
        image = image.resize((int(image.width * scale), int(image.height * scale)), Image.LANCZOS)
    if colors:
        image = image.quantize(colors=colors, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    image.save(path, format="PNG", optimize=True)
    return path


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", help="HTML file or URL")
    parser.add_argument("--screenshot", help="PNG path for the screenshot")
    parser.add_argument("--height", type=int, default=None, help="keep only the top HEIGHT pixels")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--width", type=int, default=1280)
    args = parser.parse_args(argv)
    check = check_page(args.page, width=args.width)
    if args.screenshot:
        save_screenshot(check.screenshot, args.screenshot, height=args.height, scale=args.scale)
    print(json.dumps({"ok": check.ok, "images": check.image_count, "broken_images": check.broken_images,
                      "console_errors": check.console_errors, "failed_requests": check.failed_requests,
                      "pixel_spread": round(pixel_spread(check.screenshot), 2)}, indent=2))
    return 0 if check.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
