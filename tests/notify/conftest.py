"""Real receivers on loopback (an SMTP server, an HTTP server) and a small province config."""

from __future__ import annotations

import json
import socket
import threading
import time
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from netmon.config import load_config

VILLAGES = ["Tả Phìn", "Làng Mô", "Nậm Tăm", "Pa Tần", "Hồng Thu"]


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(cond, timeout_s: float = 20.0, what: str = "condition"):
    """Poll `cond` until truthy (returns its value) or fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


class HttpReceiver:
    """A real HTTP server recording every POST (path, headers, JSON body); stoppable and restartable."""

    def __init__(self, port: int | None = None, delay_s: float = 0.0) -> None:
        self.port = port or free_port()
        self.delay_s = delay_s
        self.posts: list[dict] = []
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    def start(self) -> HttpReceiver:
        """Listen on 127.0.0.1:port."""
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with outer.lock:
                    outer.posts.append({"path": self.path, "headers": dict(self.headers),
                                        "json": json.loads(body.decode())})
                if outer.delay_s:
                    time.sleep(outer.delay_s)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def do_GET(self) -> None:  # the same server doubles as a service being monitored
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop listening (the uplink outage)."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def on(self, path: str) -> list[dict]:
        """Posts received on `path`."""
        with self.lock:
            return [p for p in self.posts if p["path"] == path]


class SmtpReceiver:
    """A real SMTP server (aiosmtpd) with AUTH, recording parsed messages."""

    def __init__(self, port: int | None = None, user: str = "kythuat", password: str = "mat-khau-9") -> None:
        self.port = port or free_port()
        self.user, self.password = user.encode(), password.encode()
        self.messages: list = []
        self.controller = None

    def start(self) -> SmtpReceiver:
        """Listen on 127.0.0.1:port."""
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        outer = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                outer.messages.append(message_from_bytes(envelope.content, policy=policy.default))
                return "250 OK"

        def auth(server, session, envelope, mechanism, data):
            return AuthResult(success=(data.login, data.password) == (outer.user, outer.password))

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, authenticator=auth,
                                     auth_require_tls=False)
        self.controller.start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def texts(self) -> list[tuple[str, str]]:
        """(subject, plain body) of every message."""
        return [(str(m["Subject"]), m.get_body(("plain",)).get_content()) for m in self.messages]


@pytest.fixture
def http_receiver():
    r = HttpReceiver().start()
    yield r
    r.stop()


@pytest.fixture
def smtp_receiver():
    r = SmtpReceiver().start()
    yield r
    r.stop()


def inventory_yaml() -> str:
    """Commune Sìn Hồ: a router and five villages behind it; commune Phong Thổ: a router and one village."""
    villages = "\n".join(
        f"""          - name: {v}
            operator: Viettel
            devices:
              - {{name: cpe, kind: cpe, host: 127.0.0.1, auth: office, parent: ubnd-router}}""" for v in VILLAGES)
    return f"""inventory:
  - name: Lai Châu
    operator: VNPT
    communes:
      - name: Sìn Hồ
        devices:
          - {{name: ubnd-router, kind: router, host: 127.0.0.1, auth: office}}
          - {{name: dichvucong, kind: service, url: "http://127.0.0.1:9/"}}
        villages:
{villages}
      - name: Phong Thổ
        devices:
          - {{name: ubnd-router, kind: router, host: 127.0.0.1, auth: office}}
        villages:
          - name: Sì Lở Lầu
            operator: MobiFone
            devices:
              - {{name: cpe, kind: cpe, host: 127.0.0.1, auth: office, parent: ubnd-router}}
"""


def write_config(tmp_path: Path, notify_yaml: str, timezone: str = "Asia/Ho_Chi_Minh") -> Path:
    """netmon.yaml with the test inventory and the given `notify:` block (indented two spaces)."""
    path = tmp_path / "netmon.yaml"
    path.write_text(f"""version: 1
agent: {{name: test-agent, timezone: {timezone}, state_dir: state}}
auths: {{office: {{version: 2c, community: public}}}}
analysis: {{evaluate_every: 60, window_now: 1800, window_trend: 7200, rollup_bucket: 300, settle: 120}}
notify:
{notify_yaml}
{inventory_yaml()}""", encoding="utf-8")
    return path


def load(tmp_path: Path, notify_yaml: str, env: dict | None = None, **kw):
    """Write and load the config (env adds environment variables for `${NAME}`)."""
    import os

    path = write_config(tmp_path, notify_yaml, **kw)
    return load_config(path, {**os.environ, **(env or {})})
