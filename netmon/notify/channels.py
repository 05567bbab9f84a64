"""Sending one message to one named channel: through Apprise, or as a templated JSON webhook.

Both raise `SendError` with a reason safe to store and print: the channel's secrets (the URL,
webhook headers) are revealed only at the call and scrubbed from any error text, because
`netmon notify log` shows reasons to whoever runs it.
"""

from __future__ import annotations

import json
import logging
import tempfile
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from netmon.config.notify_schema import ChannelSpec, WebhookSpec
from netmon.errors import OutputError
from netmon.model import Secret

log = logging.getLogger(__name__)


class SendError(OutputError):
    """A channel refused or could not take a message; `str()` is safe to store and show."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    """What a channel receives: the texts plus the fields a webhook template may use."""

    key: str
    subject: str
    body: str
    fields: Mapping[str, Any]
    attachments: Mapping[str, str] = field(default_factory=dict)
    """File name -> text (a digest's CSV); Apprise attaches them, a webhook ignores them."""


class Channel(Protocol):
    """A destination; `send` blocks (run it off the event loop) and raises SendError on failure."""

    name: str

    def send(self, msg: Outgoing) -> None:
        """Deliver one message or raise SendError."""
        ...


def _secret_parts(url: str) -> list[str]:
    """The pieces of a URL that must not be shown: userinfo, path tokens (Telegram bot tokens), query values."""
    parts = urlsplit(url)
    pieces = [url, parts.password or "", parts.username or "", parts.netloc]
    pieces += [p for p in parts.path.split("/") if len(p) >= 6]
    pieces += [v for kv in parts.query.split("&") if "=" in kv for v in [kv.split("=", 1)[1]] if len(v) >= 6]
    return sorted({p for p in pieces + [unquote(p) for p in pieces] if p}, key=len, reverse=True)


def scrub(text: str, secrets: list[str]) -> str:
    """Replace every secret piece in `text` with `***`."""
    for piece in secrets:
        if len(piece) >= 3:
            text = text.replace(piece, "***")
    return text


class AppriseChannel:
    """Any Apprise URL scheme: mailto://, tgram://, slack://, matrix://, ntfy://, json://, ..."""

    def __init__(self, name: str, url: Secret) -> None:
        self.name = name
        self._url = url

    def send(self, msg: Outgoing) -> None:
        """Send through Apprise; its log lines become the failure reason."""
        import apprise

        url = self._url.reveal()
        secrets = _secret_parts(url)
        ap = apprise.Apprise()
        if not ap.add(url):
            raise SendError(f"channel {self.name}: Apprise does not accept this URL (from {self._url.source})")
        with tempfile.TemporaryDirectory(prefix="netmon-attach-") as tmp, \
                apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as captured:
            attach = None
            if msg.attachments:
                attach = apprise.AppriseAttachment()
                for name, text in msg.attachments.items():
                    path = Path(tmp) / Path(name).name
                    # a BOM lets Excel, which provinces open CSVs with, read Vietnamese as UTF-8
                    path.write_text(text, encoding="utf-8-sig" if path.suffix == ".csv" else "utf-8")
                    attach.add(str(path))
            ok = ap.notify(title=msg.subject, body=msg.body, attach=attach)
        if not ok:
            reason = " | ".join(line.strip() for line in captured.getvalue().splitlines() if line.strip())[-400:]
            raise SendError(f"channel {self.name}: {scrub(reason, secrets) or 'Apprise reported a failure'}")


def render_template(template: Any, values: Mapping[str, Any]) -> Any:
    """Format every string inside a JSON-like template with `values` (unknown names are an error)."""
    if isinstance(template, str):
        return template.format_map(values)
    if isinstance(template, list):
        return [render_template(t, values) for t in template]
    if isinstance(template, dict):
        return {k: render_template(v, values) for k, v in template.items()}
    return template


class WebhookChannel:
    """POST a JSON body built from the channel's template; any 2xx is delivered."""

    def __init__(self, name: str, spec: WebhookSpec) -> None:
        self.name = name
        self.spec = spec

    def send(self, msg: Outgoing) -> None:
        """POST once; non-2xx, timeouts and refused connections raise SendError."""
        url = self.spec.url.reveal()
        secrets = _secret_parts(url) + [h.reveal() for h in self.spec.headers.values()]
        values = {"subject": msg.subject, "body": msg.body, "key": msg.key, **msg.fields}
        try:
            payload = render_template(self.spec.template, values)
        except (KeyError, IndexError, ValueError) as exc:
            raise SendError(f"channel {self.name}: template names an unknown field {exc}") from None
        headers = {"Content-Type": "application/json; charset=utf-8", "Idempotency-Key": msg.key}
        headers.update({k: v.reveal() for k, v in self.spec.headers.items()})
        req = urllib.request.Request(url, json.dumps(payload, ensure_ascii=False).encode(), headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.spec.timeout) as resp:
                resp.read(1024)
        except urllib.error.HTTPError as exc:
            raise SendError(f"channel {self.name}: HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise SendError(f"channel {self.name}: {scrub(str(reason), secrets)}") from None


def _register(name: str, url: str, extra: list[str] = ()) -> None:
    """Teach the log masker this channel's secrets (the URL's credentials and tokens), so no log line,
    ours or Apprise's, can print them, whether they came from ${ENV}, a file or the config itself."""
    from netmon.config.secrets import remember

    parts = urlsplit(url)
    pieces = [parts.password or "", parts.username or "" if parts.password else ""]
    host = parts.netloc.rsplit("@", 1)[-1]
    if ":" in host and not host.rsplit(":", 1)[1].isdigit():  # tgram://BOT:TOKEN/..., not host:port
        pieces.append(host)
    # tokens, not words: a bot token (`123:ABC...`), long path keys and query values (not `/apprise`)
    pieces += [p for p in parts.path.split("/") if len(p) >= 16 or (":" in p and len(p) >= 8)]
    pieces += [kv.split("=", 1)[1] for kv in parts.query.split("&") if "=" in kv and len(kv.split("=", 1)[1]) >= 8
               and kv.split("=", 1)[0].lower() not in ("to", "from", "cc", "bcc", "name", "format", "mode")]
    remember({piece: f"<hidden notify.channels.{name}>" for piece in [*pieces, *extra] if len(piece) >= 6})


def build_channel(name: str, spec: ChannelSpec, config_dir: Path) -> Channel:
    """The sender for one configured channel; `url_file:` is read here (relative to the config)."""
    if spec.webhook is not None:
        url = spec.webhook.url.reveal()
        if not url.startswith(("http://", "https://")):
            raise SendError(f"channel {name}: webhook url must start with http:// or https://")
        _register(name, url, [h.reveal() for h in spec.webhook.headers.values()])
        return WebhookChannel(name, spec.webhook)
    if spec.url is not None:
        _register(name, spec.url.reveal())
        return AppriseChannel(name, spec.url)
    path = config_dir / str(spec.url_file)
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SendError(f"channel {name}: cannot read url_file {path}: {exc.strerror}") from None
    _register(name, text)
    return AppriseChannel(name, Secret(text, f"file {path}"))
