"""Channel secrets never reach a stored or printed reason; templates fail with a clear reason."""

from __future__ import annotations

import pytest

from netmon.config.notify_schema import WebhookSpec
from netmon.model import Secret
from netmon.notify.channels import AppriseChannel, Outgoing, SendError, WebhookChannel, _secret_parts, scrub
from tests.notify.conftest import free_port

MSG = Outgoing("k1", "tiêu đề", "nội dung", {"severity": "info"})


def test_scrub_hides_userinfo_path_tokens_and_query_values():
    url = "tgram://123456789:AAHk-bot-token-xyz/-100200300?format=markdown&key=sieu-bi-mat"
    text = f"failed to send to {url}; token 123456789:AAHk-bot-token-xyz rejected; key=sieu-bi-mat"
    out = scrub(text, _secret_parts(url))
    assert "AAHk-bot-token-xyz" not in out and "sieu-bi-mat" not in out and "***" in out


def test_unreachable_webhook_reason_names_the_channel_not_its_token():
    port = free_port()  # nobody listens: connection refused
    spec = WebhookSpec(url=Secret(f"http://127.0.0.1:{port}/hook/tok-9f8e7d6c5b", "env X"),
                       headers={"Authorization": Secret("Bearer zalo-secret-42", "env Y")})
    with pytest.raises(SendError) as err:
        WebhookChannel("zalo", spec).send(MSG)
    assert str(err.value).startswith("channel zalo:")
    assert "tok-9f8e7d6c5b" not in str(err.value) and "zalo-secret-42" not in str(err.value)


def test_bad_template_field_and_bad_apprise_url_are_clear_errors():
    spec = WebhookSpec(url=Secret("http://127.0.0.1:9/x", "env X"), template={"t": "{no_such_field}"})
    with pytest.raises(SendError, match="unknown field 'no_such_field'"):
        WebhookChannel("relay", spec).send(MSG)
    with pytest.raises(SendError, match=r"Apprise does not accept this URL \(from env NETMON_TG\)") as err:
        AppriseChannel("tg", Secret("nosuchscheme://hunter2@127.0.0.1", "env NETMON_TG")).send(MSG)
    assert "hunter2" not in str(err.value)


def test_message_for_a_channel_removed_from_the_config_is_kept_as_failed_with_the_reason(tmp_path, capsys):
    import asyncio
    import json as _json

    from netmon.cli import main
    from netmon.notify.component import Notifier
    from tests.notify.conftest import load

    config = load(tmp_path, """  channels:
    it: {url: "json://127.0.0.1:9/x"}
""")
    notifier = Notifier(config)
    notifier.open()
    with notifier.store.transaction() as conn:
        conn.execute("INSERT INTO notify_outbox (key, channel, commune, created_ts, event_ts, severity, subject, body,"
                     " payload, status, next_try_ts) VALUES ('k-old', 'old-zalo', 'x', 0, 0, 'warning', 's', 'b', ?,"
                     " 'pending', 0)", (_json.dumps({}),))
    assert asyncio.run(notifier.deliver()) == 0
    row = notifier.store.conn.execute("SELECT status, last_error FROM notify_outbox WHERE key = 'k-old'").fetchone()
    assert row == ("failed", "channel old-zalo is no longer in the config")
    assert main(["notify", "log", "--status", "failed", "-c", str(config.path)]) == 0
    assert "reason: channel old-zalo is no longer in the config" in capsys.readouterr().out


def test_channel_secrets_are_masked_in_every_log_line(tmp_path):
    from netmon.config.secrets import mask
    from netmon.notify.channels import build_channel
    from tests.notify.conftest import load

    config = load(tmp_path, """  channels:
    tg: {url: "tgram://987654321:AAF-inline-bot-token-1/-1001234"}
    mail: {url: "mailto://kt:inline-pass-77@127.0.0.1:2525?to=kt@x.example"}
    hook: {webhook: {url: "http://127.0.0.1:9/hook", headers: {X-Key: "inline-header-key-5"}}}
""")
    for name, spec in config.settings.notify.channels.items():
        build_channel(name, spec, tmp_path)
    line = mask("apprise: 987654321:AAF-inline-bot-token-1 kt inline-pass-77 inline-header-key-5 via 127.0.0.1:9/hook")
    assert "AAF-inline" not in line and "inline-pass-77" not in line and "inline-header-key-5" not in line
    assert "127.0.0.1:9/hook" in line and line.startswith("apprise: ")  # addresses and words stay readable


def test_without_routes_every_channel_hears_everything(tmp_path):
    from netmon.analysis import flags as flagmod
    from netmon.analysis.catalog import catalog_from_config
    from netmon.analysis.db import ensure_schema
    from netmon.analysis.stability import Cause
    from netmon.notify.component import Notifier
    from netmon.store import Store
    from tests.notify.conftest import load

    config = load(tmp_path, """  group_wait: 1ms
  channels:
    a: {url: "json://127.0.0.1:9/a"}
    b: {url: "json://127.0.0.1:9/b"}
""")
    store = Store.open(config.state_dir)
    ensure_schema(store)
    notifier = Notifier(config)
    notifier.open()
    now = 1_800_000_000.0
    with store.transaction() as conn:
        flagmod.raise_flag(conn, catalog_from_config(config).villages["lai-chau/sin-ho/ta-phin"], Cause.LINK, {}, now)
    notifier.tick(now + 1)
    notifier.tick(now + 2)
    assert sorted(c for (c,) in store.conn.execute("SELECT channel FROM notify_outbox")) == ["a", "b"]
