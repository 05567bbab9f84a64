"""netmon's own SNMPv3 USM against a real net-snmp snmpd: same values as pysnmp and v2c, clear errors."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from snmp_helpers import COMMUNITY, V3_AUTH, V3_PRIV, V3_USER, Agent, free_udp_port, stop, wait_snmp

from netmon.config.schema import SnmpAuth
from netmon.model import Status
from netmon.probers import snmp_usm as usm
from netmon.probers.snmp_client import Answer, SnmpClient
from tests.fixtures.need import need


def v3(user: str, auth: str | None = "sha", priv: str | None = "aes", auth_key: str = V3_AUTH,
       priv_key: str = V3_PRIV) -> SnmpAuth:
    spec: dict[str, Any] = {"version": "3", "user": user}
    if auth:
        spec["auth"] = {"protocol": auth, "key": auth_key}
    if priv:
        spec["priv"] = {"protocol": priv, "key": priv_key}
    return SnmpAuth.model_validate(spec)


V2 = SnmpAuth.model_validate({"version": "2c", "community": COMMUNITY})
SCALARS = ["1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.2.0", "1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.1.6.0",
           "1.3.6.1.4.1.99999.1.0"]
"""sysDescr, sysObjectID, sysName, sysLocation and one the agent lacks (MISSING)."""
STABLE_WALKS = ["1.3.6.1.2.1.2.2.1.2", "1.3.6.1.2.1.2.2.1.4", "1.3.6.1.2.1.25.2.3.1.3", "1.3.6.1.2.1.1.9.1.3"]
"""ifDescr, ifMtu, hrStorageDescr, sysORDescr: columns that do not move between polls."""


async def read(port: int, auth: SnmpAuth, fast: bool = True, max_repetitions: int = 5,
               client: SnmpClient | None = None) -> tuple[Answer, list[Answer], SnmpClient]:
    """GET the scalars and walk the stable columns with one client; the client is closed after."""
    own = client or SnmpClient()
    own.v3_fast = fast
    try:
        got = await own.get("127.0.0.1", port, auth, SCALARS, 2.0, 1)
        walks = [await own.walk("127.0.0.1", port, auth, root, 2.0, 1, max_repetitions)
                 for root in STABLE_WALKS]
        return got, walks, own
    finally:
        if client is None:
            own.close()


def values(got: Answer, walks: list[Answer]) -> tuple[Any, ...]:
    for answer in (got, *walks):
        assert answer.status is None, answer.reason
    return got.varbinds, [w.varbinds for w in walks]


@pytest.mark.parametrize("auth", [v3(V3_USER), v3(V3_USER + "256", auth="sha256"),
                                  v3(V3_USER + "nopriv", priv=None)], ids=["sha-aes", "sha256-aes", "sha-nopriv"])
def test_own_usm_reads_what_pysnmp_and_v2c_read(snmpd: Agent, auth: SnmpAuth) -> None:
    fast_get, fast_walks, fast_client = asyncio.run(read(snmpd.port, auth))
    slow_get, slow_walks, slow_client = asyncio.run(read(snmpd.port, auth, fast=False))
    v2_get, v2_walks, _ = asyncio.run(read(snmpd.port, V2))
    ours = values(fast_get, fast_walks)
    assert ours == values(slow_get, slow_walks) == values(v2_get, v2_walks)
    scalars, walks = ours
    assert scalars[2] == ("1.3.6.1.2.1.1.5.0", b"netmon-snmpd") and scalars[4][1] is not scalars[2][1]
    assert len(walks[0]) >= 1 and len(walks[3]) > 5  # sysORTable takes several GETBULKs at 5 a time
    assert fast_client._v3_fast is not None and fast_client._v3_client is None  # pysnmp not used
    assert slow_client._v3_client is not None and slow_client._v3_fast is None


@pytest.mark.parametrize(("auth", "status", "words"), [
    (v3(V3_USER, auth_key="wrong-key-000"), Status.AUTH_FAILED, "wrong key"),
    (v3("ghost"), Status.AUTH_FAILED, "user unknown"),
    (v3(V3_USER, priv_key="wrong-key-000"), Status.TIMEOUT, "privacy key"),
    (v3(V3_USER + "nopriv", auth="sha256", priv=None), Status.AUTH_FAILED, "wrong key"),
    (v3(V3_USER, priv=None), Status.ERROR, "agent error authorizationError"),  # VACM: rouser ... priv
], ids=["wrong-auth-key", "unknown-user", "wrong-priv-key", "wrong-auth-protocol", "level-too-low"])
def test_bad_credentials_are_results_with_reasons(snmpd: Agent, auth: SnmpAuth, status: Status,
                                                  words: str) -> None:
    async def go() -> tuple[Answer, Answer]:
        client = SnmpClient()
        try:
            return (await client.get("127.0.0.1", snmpd.port, auth, SCALARS, 0.5, 0),
                    await client.walk("127.0.0.1", snmpd.port, auth, STABLE_WALKS[0], 0.5, 0, 10))
        finally:
            client.close()

    for answer in asyncio.run(go()):
        assert answer.status is status and words in answer.reason and answer.varbinds == []
        for secret in (V3_AUTH, V3_PRIV, "wrong-key-000"):
            assert secret not in answer.reason


def test_dead_agent_is_a_timeout(snmpd: Agent) -> None:
    async def go() -> Answer:
        client = SnmpClient()
        try:
            return await client.get("127.0.0.1", free_udp_port(), v3(V3_USER), SCALARS, 0.3, 0)
        finally:
            client.close()

    got = asyncio.run(go())
    assert got.status is Status.TIMEOUT and "engine discovery" in got.reason


class TamperingProxy(asyncio.DatagramProtocol):
    """Forwards to the agent and flips one byte of every authenticated reply it returns."""

    def __init__(self, agent_port: int) -> None:
        self.agent = ("127.0.0.1", agent_port)
        self.client: Any = None
        self.transport: Any = None
        self.tampered = 0

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if addr[1] != self.agent[1]:
            self.client = addr
            self.transport.sendto(data, self.agent)
            return
        if usm.decode_message(data).flags & usm.FLAG_AUTH:
            data = data[:-3] + bytes((data[-3] ^ 0x40,)) + data[-2:]
            self.tampered += 1
        self.transport.sendto(data, self.client)


def test_changed_reply_fails_authentication(snmpd: Agent) -> None:
    async def go() -> tuple[Answer, int]:
        loop = asyncio.get_running_loop()
        transport, proxy = await loop.create_datagram_endpoint(lambda: TamperingProxy(snmpd.port),
                                                               local_addr=("127.0.0.1", 0))
        client = SnmpClient()
        try:
            port = transport.get_extra_info("sockname")[1]
            return await client.get("127.0.0.1", port, v3(V3_USER), SCALARS, 1.0, 0), proxy.tampered
        finally:
            client.close()
            transport.close()

    got, tampered = asyncio.run(go())
    assert tampered == 1
    assert got.status is Status.AUTH_FAILED and "HMAC" in got.reason


RESTART_USERS = (f'createUser md5user MD5 "{V3_AUTH}" AES "{V3_PRIV}"\nrouser md5user priv\n'
                 f'createUser sha512user SHA-512 "{V3_AUTH}" AES "{V3_PRIV}"\nrouser sha512user priv\n'
                 "createUser plainuser\nrouser plainuser noauth\n"
                 f'createUser aes256user SHA "{V3_AUTH}" AES256C "{V3_PRIV}"\nrouser aes256user priv\n'
                 f'createUser aes256buser SHA "{V3_AUTH}" AES256 "{V3_PRIV}"\nrouser aes256buser priv\n')


class OwnSnmpd:
    """An snmpd this module restarts: same port, same persistent dir, so engine boots go up.

    Its config is found through SNMPCONFPATH rather than `-C -c`, because `-C` also skips the
    persistent file that carries engineBoots and the engine ID across restarts.
    """

    def __init__(self, work: Path) -> None:
        self.work, self.port = work, free_udp_port()
        (work / "persist").mkdir()
        (work / "conf").mkdir()
        (work / "conf" / "snmpd.conf").write_text(f"agentAddress udp:127.0.0.1:{self.port},udp6:[::1]:{self.port}\n"
                                         f"rocommunity {COMMUNITY} 127.0.0.1\nrocommunity6 {COMMUNITY} ::1\n"
                                         "sysName restart-snmpd\n"
                                         + RESTART_USERS)
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        persist = self.work / "persist"
        env = {**os.environ, "SNMP_PERSISTENT_DIR": str(persist), "MIBS": "",
               "SNMPCONFPATH": f"{self.work / 'conf'}:{persist}"}
        self.proc = subprocess.Popen(["snmpd", "-f", "-Lf", str(self.work / "snmpd.log")], env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_snmp(self.port, COMMUNITY, self.proc, self.work / "snmpd.log")

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)


@pytest.fixture(scope="module")
def own_snmpd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnSnmpd]:
    need(shutil.which("snmpd") is not None and shutil.which("snmpget") is not None,
         "net-snmp (snmpd, snmpget; Debian packages snmpd snmp)")
    agent = OwnSnmpd(tmp_path_factory.mktemp("snmpd-restart"))
    agent.start()
    try:
        yield agent
    finally:
        agent.stop()


@pytest.mark.parametrize("auth", [v3("md5user", auth="md5"), v3("sha512user", auth="sha512"),
                                  v3("plainuser", auth=None, priv=None)],
                         ids=["md5-aes", "sha512-aes", "noauth-nopriv"])
def test_md5_sha512_and_plain_users(own_snmpd: OwnSnmpd, auth: SnmpAuth) -> None:
    fast = values(*asyncio.run(read(own_snmpd.port, auth))[:2])
    assert fast == values(*asyncio.run(read(own_snmpd.port, V2))[:2])
    assert fast[0][2][1] == b"restart-snmpd"


def test_agent_restart_resyncs_and_keeps_polling(own_snmpd: OwnSnmpd) -> None:
    """Restart keeping the engine (boots go up), then with a new engine ID (state wiped)."""
    auth = v3("sha512user", auth="sha512")
    where = ("127.0.0.1", own_snmpd.port)

    async def go() -> tuple[list[Answer], list[tuple[bytes, int]], list[int]]:
        client = SnmpClient()
        answers, engines, sent = [], [], []

        async def poll() -> None:
            assert client._v3_fast is not None or not answers
            before = client._v3_fast.transport.stats["sent"] if client._v3_fast else 0
            answers.append(await client.get(*where, auth, SCALARS[:3], 2.0, 1))
            assert client._v3_fast is not None
            engine = client._v3_fast._engines[where]
            engines.append((engine.engine_id, engine.boots))
            sent.append(client._v3_fast.transport.stats["sent"] - before)

        def restart(wipe: bool) -> None:
            own_snmpd.stop()
            if wipe:
                shutil.rmtree(own_snmpd.work / "persist")
                (own_snmpd.work / "persist").mkdir()
            own_snmpd.start()

        try:
            await poll()
            # restarts block for ~1 s: off the loop, like any other slow call
            await asyncio.to_thread(restart, False)
            await poll()
            await poll()
            await asyncio.to_thread(restart, True)
            await poll()
            await poll()
            return answers, engines, sent
        finally:
            client.close()

    answers, engines, sent = asyncio.run(go())
    for answer in answers:
        assert answer.status is None, answer.reason
        assert answer.varbinds[2] == ("1.3.6.1.2.1.1.5.0", b"restart-snmpd")
    assert engines[1] == engines[2] == (engines[0][0], engines[0][1] + 1)
    assert sent[1:3] == [2, 1]  # the stale request, its copy after the re-sync; then one per poll
    assert engines[3][0] != engines[0][0] and engines[3] == engines[4]
    assert sent[3] >= 3 and sent[4] == 1  # stale request, discovery, request again


def test_aes256_user_goes_through_pysnmp(own_snmpd: OwnSnmpd) -> None:
    """AES-256 (key extension) is not in the own USM: the same client sends it through pysnmp.

    netmon's `aes256` is pysnmp's USM_PRIV_CFB256_AES, the Reeder ("Cisco") key extension that
    net-snmp calls AES256C; net-snmp's own `AES256` (Blumenthal) does not answer it.
    """
    got, walks, client = asyncio.run(read(own_snmpd.port, v3("aes256user", priv="aes256")))
    assert values(got, walks) == values(*asyncio.run(read(own_snmpd.port, V2))[:2])
    assert client._v3_client is not None and client._v3_fast is None


def test_net_snmps_own_aes256_is_aes256_blumenthal(own_snmpd: OwnSnmpd) -> None:
    """net-snmp's `AES256` user answers `aes256-blumenthal`; read as `aes256` (Reeder) it does not answer."""
    got, walks, _ = asyncio.run(read(own_snmpd.port, v3("aes256buser", priv="aes256-blumenthal")))
    assert values(got, walks) == values(*asyncio.run(read(own_snmpd.port, V2))[:2])
    wrong, _, _ = asyncio.run(read(own_snmpd.port, v3("aes256buser", priv="aes256")))
    assert wrong.status is not Status.OK


def test_ipv6_agent(own_snmpd: OwnSnmpd) -> None:
    """The v3 transport opens its IPv6 socket like the v2c one and matches replies from ::1."""
    auth = v3("sha512user", auth="sha512")

    async def go() -> Answer:
        client = SnmpClient()
        try:
            return await client.get("::1", own_snmpd.port, auth, SCALARS[:3], 2.0, 1)
        finally:
            client.close()

    got = asyncio.run(go())
    assert got.status is None, got.reason
    assert got.varbinds[2] == ("1.3.6.1.2.1.1.5.0", b"restart-snmpd")


def test_an_unauthenticated_not_in_time_window_report_does_not_reset_the_clock() -> None:
    """A spoofed Report must not keep an authPriv poll re-syncing: RFC 3414 sends that Report authenticated.

    A small agent on loopback answers discovery properly (its engine ID, unauthenticated, as RFC 3414 §4
    has it) and then every request with an *unauthenticated* usmStatsNotInTimeWindows Report.
    """
    import socket
    import threading

    from netmon.probers.snmp_v3_fast import _NOT_IN_TIME_WINDOW, _UNKNOWN_ENGINE_ID
    from netmon.probers.snmp_wire import encode_varbind

    engine_id = b"\x80\x00\x1f\x88\x04spoof"
    nobody = usm.UserKeys(b"", None, 0)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    requests: list[bytes] = []
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            try:
                data, peer = sock.recvfrom(65535)
            except TimeoutError:
                continue
            msg = usm.decode_message(data)
            requests.append(msg.engine_id)
            oid = _UNKNOWN_ENGINE_ID if not msg.engine_id else _NOT_IN_TIME_WINDOW
            pdu = usm.encode_pdu(usm.REPORT, msg.msg_id, encode_varbind(oid))
            sock.sendto(usm.encode_message(msg.msg_id, nobody, engine_id, 7, 1000, b"", pdu, 0), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()

    async def go() -> Answer:
        client = SnmpClient()
        try:
            return await client.get("127.0.0.1", sock.getsockname()[1], v3(V3_USER), SCALARS, 1.0, 0)
        finally:
            client.close()

    try:
        got = asyncio.run(go())
    finally:
        done.set()
        thread.join(timeout=5)
        sock.close()
    assert got.status is not Status.OK
    assert requests == [b"", engine_id]  # discovery, one request: no re-sync on the spoofed Report


def test_reloads_do_not_grow_the_per_user_caches(snmpd: Agent) -> None:
    """A SIGHUP builds new SnmpAuth objects while the prober is kept: the old ones' cached keys go with them."""
    import gc

    def cached(client: SnmpClient) -> int:
        assert client._v3_fast is not None
        return (len(client._v3_fast._users) + len(client._v3_fast._keys) + len(client._communities)
                + len(client._fast_users))

    async def reloads() -> tuple[list[int], list[int]]:
        client = SnmpClient()
        client.v3_fast = True
        held, after = [], []
        try:
            for _ in range(5):  # five "reloads": equal credentials, new objects
                config = [v3(V3_USER), V2.model_copy()]
                for _poll in range(2):
                    for auth in config:
                        got = await client.get("127.0.0.1", snmpd.port, auth, SCALARS[:1], 2.0, 1)
                        assert got.status is None, got.reason
                held.append(cached(client))
                del config, auth
                gc.collect()
                after.append(cached(client))
        finally:
            client.close()
        return held, after

    held, after = asyncio.run(reloads())
    # While a config is live its users are cached (v3: user, its keys, "fast path?"; v2c: community) ...
    assert held == [4] * 5, held
    # ... and once it is replaced, nothing of it is kept.
    assert after == [0] * 5, after
