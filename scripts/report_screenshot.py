#!/usr/bin/env python3
"""Screenshot of get-map's report.html in headless Chromium (docs/report.png).

Usage: scripts/report_screenshot.py REPORT_HTML OUT_PNG [--top 0] [--height 2600] [--scale 0.5]

Drives Debian's chromium-headless-shell over the DevTools protocol on --remote-debugging-pipe
(fd 3: commands, fd 4: replies, NUL-separated JSON), as Tests/ToolTests/HeadlessChromium.swift
does, and writes Page.captureScreenshot of `height` CSS pixels from `top` (an element id: from that
element) at `scale`.
Standard library only.
"""
import argparse, base64, json, os, select, shutil, subprocess, tempfile, time

parser = argparse.ArgumentParser()
parser.add_argument("report")
parser.add_argument("out")
parser.add_argument("--top", default="0")
parser.add_argument("--height", type=int, default=2600)
parser.add_argument("--width", type=int, default=1150)
parser.add_argument("--scale", type=float, default=0.5)
args = parser.parse_args()

binary = next(b for b in ["/usr/lib/chromium/chromium-headless-shell", "/usr/bin/chromium-headless-shell",
                          "/usr/bin/chromium"] if os.access(b, os.X_OK))
to_r, to_w = os.pipe()
from_r, from_w = os.pipe()


def child_fds():
    a, b = os.dup(to_r), os.dup(from_w)   # never dup2 a descriptor onto itself
    os.dup2(a, 3)
    os.dup2(b, 4)


profile = tempfile.mkdtemp()
flags = ["--headless", "--remote-debugging-pipe", "--disable-gpu", "--hide-scrollbars", "--user-data-dir=" + profile]
if os.getuid() == 0:
    flags.append("--no-sandbox")
proc = subprocess.Popen([binary] + flags + ["about:blank"], preexec_fn=child_fds, close_fds=False,
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
os.close(to_r)
os.close(from_w)
buffer, next_id, session = b"", 0, None


def call(method, params=None, browser=False):
    global buffer, next_id
    next_id += 1
    message = {"id": next_id, "method": method, "params": params or {}}
    if session and not browser:
        message["sessionId"] = session
    os.write(to_w, json.dumps(message).encode() + b"\0")
    return wait(lambda m: m.get("id") == next_id).get("result", {})


def wait(match, timeout=30):
    global buffer
    deadline = time.time() + timeout
    while True:
        while b"\0" in buffer:
            raw, buffer = buffer.split(b"\0", 1)
            message = json.loads(raw)
            if "error" in message:
                raise SystemExit(f"DevTools error: {message['error']}")
            if match(message):
                return message
        if not select.select([from_r], [], [], max(0, deadline - time.time()))[0]:
            raise SystemExit("timed out")
        chunk = os.read(from_r, 1 << 16)
        if not chunk:
            raise SystemExit("the browser closed its pipe")
        buffer += chunk


target = call("Target.createTarget", {"url": "about:blank"}, browser=True)["targetId"]
session = call("Target.attachToTarget", {"targetId": target, "flatten": True}, browser=True)["sessionId"]
call("Page.enable")
call("Emulation.setDeviceMetricsOverride", {"width": args.width, "height": args.height, "deviceScaleFactor": 1, "mobile": False})
call("Page.navigate", {"url": "file://" + os.path.abspath(args.report)})
wait(lambda m: m.get("method") == "Page.loadEventFired")
top = float(args.top) if args.top.replace(".", "").isdigit() else call("Runtime.evaluate", {
    "expression": f"document.getElementById({json.dumps(args.top)}).getBoundingClientRect().top", "returnByValue": True})["result"]["value"]
shot = call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": {"x": 0, "y": top, "width": args.width,
                                                                  "height": args.height, "scale": args.scale}})
with open(args.out, "wb") as f:
    f.write(base64.b64decode(shot["data"]))
call("Browser.close", browser=True)
proc.wait()
shutil.rmtree(profile, ignore_errors=True)
print(f"{args.out}: {os.path.getsize(args.out)} bytes")
