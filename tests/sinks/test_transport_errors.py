"""A transport never raises: what it cannot send is a RETRY answer with the reason (its Transport contract)."""

from __future__ import annotations

import asyncio
import socket

from netmon.config.schema import InfluxOutput
from netmon.sinks.transport import Outcome, make_transport


def test_a_token_http_cannot_encode_is_an_answer_not_an_exception():
    """`ư` is not Latin-1: http.client refuses the header; the forwarder and `deadletters replay` get an answer."""
    with socket.create_server(("127.0.0.1", 0)) as server:  # accepts, never answers: the header fails first
        port = server.getsockname()[1]
        output = InfluxOutput.model_validate({"name": "cloud", "url": f"http://127.0.0.1:{port}", "api": "v2",
                                              "org": "it", "bucket": "netmon", "token": "mật-khẩu-ư", "timeout": 2})
        transport = make_transport(output)

        async def main():
            try:
                return await transport.send(b"ping,device=a value=1 1")
            finally:
                await transport.close()

        answer = asyncio.run(main())
    assert answer.outcome is Outcome.RETRY
    assert "cannot send the request" in answer.message
    assert "mật" not in answer.message  # the secret is not repeated in the reason


def test_a_closed_transport_answers_retry():
    output = InfluxOutput.model_validate({"name": "local", "url": "http://127.0.0.1:9", "api": "v1",
                                          "database": "netmon"})
    transport = make_transport(output)

    async def main():
        await transport.close()
        return await transport.send(b"ping,device=a value=1 1")

    answer = asyncio.run(main())
    assert answer.outcome is Outcome.RETRY and "closed" in answer.message
