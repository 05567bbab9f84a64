"""Real loopback servers for the TCP and HTTP(S) prober tests: plain HTTP, HTTPS with certificates
made here by a throw-away CA, and small TCP servers with scripted behaviour. All on 127.0.0.1, port 0.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import socketserver
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.fixtures.need import missing

PORTAL_BODY = "<html><title>Cổng Dịch vụ công quốc gia</title><body>Xin chào</body></html>"
SLOW_S = 3.0


@pytest.fixture
def need() -> Callable[[str], None]:
    """Skip for a missing component, or fail when CI=true (CI installs everything)."""
    return missing


@pytest.fixture
def portal_body() -> str:
    """What the stand-in portal serves on every page but /slow, /redirect and /status/N."""
    return PORTAL_BODY


# ---------------------------------------------------------------- certificates


@dataclass(frozen=True)
class Pki:
    ca_pem: Path
    ca_cert: x509.Certificate
    ca_key: ec.EllipticCurvePrivateKey
    folder: Path

    def server_cert(self, name: str, days_valid: float, hosts: tuple[str, ...] = ("127.0.0.1", "localhost"),
                    ) -> tuple[Path, Path]:
        """Write a CA-signed server cert valid until now + days_valid (negative: expired)."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        not_after = now + dt.timedelta(days=days_valid)
        not_before = min(now, not_after) - dt.timedelta(days=30)
        sans: list[x509.GeneralName] = []
        for host in hosts:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                sans.append(x509.DNSName(host))
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
            .issuer_name(self.ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(self.ca_key, hashes.SHA256())
        )
        cert_path, key_path = self.folder / f"{name}.pem", self.folder / f"{name}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        return cert_path, key_path


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A throw-away CA (ca.pem in its own folder, which tests use as config_dir)."""
    folder = tmp_path_factory.mktemp("pki")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "netmon test CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .sign(key, hashes.SHA256())
    )
    ca_pem = folder / "ca.pem"
    ca_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return Pki(ca_pem, cert, key, folder)


# ---------------------------------------------------------------- HTTP(S)


class PortalHandler(BaseHTTPRequestHandler):
    """A tiny stand-in for a public-service portal."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path == "/slow":
            time.sleep(SLOW_S)
        if self.path.startswith("/status/"):
            self._send(int(self.path.rsplit("/", 1)[1]), "status page")
        elif self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/")
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self._send(200, PORTAL_BODY)

    def do_HEAD(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _send(self, code: int, text: str) -> None:
        body = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the tests assert on results, not on access logs."""


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default 5 drops SYNs when a test fans out

    def handle_error(self, request: object, client_address: object) -> None:
        """Handshakes the client rejects on purpose (untrusted certs) are expected here."""


@dataclass(frozen=True)
class WebServer:
    base_url: str
    port: int


def _serve(server: socketserver.BaseServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return thread


def _stop(server: socketserver.BaseServer, thread: threading.Thread) -> None:
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def http_server() -> Iterator[WebServer]:
    """Plain HTTP on 127.0.0.1:<free port>."""
    server = _QuietServer(("127.0.0.1", 0), PortalHandler)
    thread = _serve(server)
    port = server.server_address[1]
    yield WebServer(f"http://127.0.0.1:{port}", port)
    _stop(server, thread)


@pytest.fixture(scope="module")
def https_server_factory(pki: Pki) -> Iterator[Callable[..., WebServer]]:
    """Start HTTPS servers whose certificate expires in `days` and names `hosts`."""
    running: list[tuple[socketserver.BaseServer, threading.Thread]] = []

    def start(name: str, days: float, hosts: tuple[str, ...] = ("127.0.0.1", "localhost")) -> WebServer:
        cert, key = pki.server_cert(name, days, hosts)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        server = _QuietServer(("127.0.0.1", 0), PortalHandler)
        # Handshake in the handler thread, so a client that hangs up does not stall accept().
        server.socket = ctx.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
        running.append((server, _serve(server)))
        port = server.server_address[1]
        return WebServer(f"https://127.0.0.1:{port}", port)

    yield start
    for server, thread in running:
        _stop(server, thread)


# ---------------------------------------------------------------- TCP


class _ScriptedHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        mode = self.server.mode  # type: ignore[attr-defined]
        sock: socket.socket = self.request
        if mode == "banner":
            sock.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")
        elif mode == "wrong-banner":
            sock.sendall(b"220 mail.example ESMTP Postfix\r\n")
        elif mode == "echo":
            sock.settimeout(5)
            if sock.recv(64).startswith(b"PING"):
                sock.sendall(b"PONG\n")
        elif mode == "close":
            return
        # "silent" and the others: hold the connection open without a word until the client leaves.
        sock.settimeout(10)
        try:
            sock.recv(64)
        except OSError:
            return


class _TcpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    request_queue_size = 128
    allow_reuse_address = True


@pytest.fixture(scope="module")
def tcp_server_factory() -> Iterator[Callable[[str], int]]:
    """Start a TCP server in one of the modes banner|wrong-banner|echo|silent|close; returns its port."""
    running: list[tuple[socketserver.BaseServer, threading.Thread]] = []

    def start(mode: str) -> int:
        server = _TcpServer(("127.0.0.1", 0), _ScriptedHandler)
        server.mode = mode  # type: ignore[attr-defined]
        running.append((server, _serve(server)))
        return server.server_address[1]

    yield start
    for server, thread in running:
        _stop(server, thread)


@pytest.fixture
def closed_port() -> int:
    """A loopback port with nothing listening (bound then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def blackhole_port() -> Iterator[int]:
    """A port whose accept queue is full, so the kernel drops new SYNs and connects time out."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):  # backlog 0 still queues one or two; the rest spill into the kernel's retries
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    time.sleep(0.2)
    yield port
    for sock in [*fillers, listener]:
        sock.close()
