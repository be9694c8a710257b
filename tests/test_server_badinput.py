"""A hostile client against a real `tingshuo serve`: every corpus file uploaded, a decoder that dies,
WebSocket garbage and abrupt disconnects. The server answers each with a 4xx JSON (or a 200 for the
odd-but-valid files), never a 5xx, and is still serving, with bounded memory, afterwards."""

from __future__ import annotations

import asyncio
import json
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from tingshuo.testing.badaudio import make_corpus, speechlike

httpx = pytest.importorskip("httpx")
pytest.importorskip("websockets")
from websockets.asyncio.client import connect  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402

from conftest import CRASH_MARKER  # noqa: E402


def _upload_name(path) -> str:
    return path.name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _post(server, name: str, data: bytes, route: str = "/v1/audio/transcriptions", **fields):
    with httpx.Client(base_url=server.url, timeout=300) as c:
        return c.post(route, files={"file" if route != "/v1/inspect" else "files": (name, data)}, data=fields)


def _alive(server) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as c:
        r = c.get("/healthz")
        assert r.status_code == 200 and r.json()["status"] == "ok", r.text


def test_every_corpus_file_gets_a_200_or_a_4xx_json(server, tmp_path):
    # Quiet noise as the content of the accepted files: the voice activity detector finds no speech, so the
    # recogniser is not run and the test is about decoding (recognition of these files is tested elsewhere).
    quiet = (np.random.default_rng(0).standard_normal(16000) * 1e-3).astype(np.float32)
    cases = [c for c in make_corpus(tmp_path, long_s=20.0, fifo=False, speech=quiet)
             if c.path.is_file() and os.access(c.path, os.R_OK)]
    uploads = [(c, _upload_name(c.path), c.path.read_bytes()) for c in cases]
    uploads += [(None, "../../etc/passwd.wav", b"RIFF"), (None, "x" * 3000 + ".wav", b""),
                (None, 'a"b\\c;d.wav', os.urandom(1000))]
    rss_before = server.rss_mb()

    def send(item):
        case, name, data = item
        return case, name, _post(server, name, data, response_format="json")

    wrong = []
    with ThreadPoolExecutor(4) as pool:
        for case, name, r in pool.map(send, uploads):
            expect_ok = case.expect_ok if case else False
            assert r.status_code < 500, (name[:60], r.status_code, r.text)
            if (r.status_code == 200) != expect_ok:
                wrong.append((case.kind if case else name[:40], r.status_code, r.text[:200]))
            if r.status_code != 200:
                err = r.json()["error"]
                assert err["type"] and err["message"] and "\n" not in err["message"]
                assert "tingshuo-upload-" not in err["message"]  # the client's name, not our temp path
    assert not wrong, wrong
    _alive(server)
    assert server.rss_mb() - rss_before < 500, (rss_before, server.rss_mb())


def test_a_dying_decoder_fails_only_its_request(server, data_dir):
    wav = (data_dir / "cathy_a0005.wav").read_bytes()
    r = _post(server, f"{CRASH_MARKER}.wav", wav)
    assert r.status_code == 422 and r.json()["error"]["type"] == "DecoderCrashed", r.text
    _alive(server)
    r = _post(server, "after-the-crash.wav", wav)
    assert r.status_code == 200 and r.json()["text"].strip(), r.text
    r = _post(server, f"{CRASH_MARKER}.wav", wav, route="/v1/inspect")
    assert r.status_code == 422 and r.json()["error"]["type"] == "DecoderCrashed", r.text
    _alive(server)
    r = _post(server, f"{CRASH_MARKER}.wav", wav, route="/v1/align", text="Will we ever forget it.")
    assert r.status_code == 422 and r.json()["error"]["type"] == "DecoderCrashed", r.text
    _alive(server)


def _ws(server, path: str) -> str:
    return server.url.replace("http://", "ws://") + path


async def _events_until(ws, kinds, timeout_s=60.0):
    out = []
    while True:
        msg = await asyncio.wait_for(ws.recv(), timeout_s)
        if isinstance(msg, str):
            out.append(json.loads(msg))
            if out[-1]["type"] in kinds:
                return out


def test_websocket_garbage_and_abrupt_disconnects(server):
    pcm = (speechlike(2.0) * 32767).astype("<i2").tobytes()

    async def garbage(path: str, ready: str = "ready"):
        async with connect(_ws(server, path), open_timeout=60, max_size=None) as ws:
            assert json.loads(await asyncio.wait_for(ws.recv(), 60))["type"] == ready
            for text in ("not json", "[1, 2]", '{"type": 5}', '{"type": "bogus"}', "\x00" * 100):
                await ws.send(text)
                assert (await _events_until(ws, ("error",)))[-1]["error"]["type"] == "InputError"
            for blob in (b"\x01", b"\x00\x80\x7f", os.urandom(32001), pcm[:16001]):  # odd lengths, noise
                await ws.send(blob)
            await ws.send(b"\x00" * (2 << 20))  # over the 1 MiB message limit: the server closes the socket
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await asyncio.wait_for(ws.recv(), 60)
            assert closed.value.rcvd is None or closed.value.rcvd.code in (1009, 1011, 1000)

    async def abrupt(path: str):
        ws = await connect(_ws(server, path), open_timeout=60)
        await asyncio.wait_for(ws.recv(), 60)
        for i in range(0, len(pcm), 3200):
            await ws.send(pcm[i:i + 3200])
        ws.transport.abort()  # no close frame, mid-stream

    async def run():
        await garbage("/v1/stream/transcribe")
        await garbage("/v1/chat?speak=false")
        await asyncio.gather(*(abrupt(p) for p in ["/v1/stream/transcribe"] * 4 + ["/v1/chat?speak=false"] * 4))
        async with connect(_ws(server, "/v1/chat?speak=false"), open_timeout=60) as ws:  # a 100 kB typed turn
            await asyncio.wait_for(ws.recv(), 60)
            await ws.send(json.dumps({"type": "text", "text": "How do I open an account? " * 4000}))
            error = (await _events_until(ws, ("error",)))[-1]["error"]
            assert error["type"] == "InputError" and "at most" in error["message"]
            await ws.send(json.dumps({"type": "text", "text": "How do I open an account?"}))  # the session goes on
            await ws.send(json.dumps({"type": "close"}))
            events = await _events_until(ws, ("bot_text_end", "error"), timeout_s=120)
            assert events[-1]["type"] == "bot_text_end", events[-3:]

    asyncio.run(run())
    _alive(server)
    with httpx.Client(base_url=server.url, timeout=30) as c:
        for _ in range(100):  # the aborted sockets are noticed and closed
            metrics = c.get("/metrics").text
            if "tingshuo_websocket_open 0" in metrics:
                break
            asyncio.run(asyncio.sleep(0.1))
        assert "tingshuo_websocket_open 0" in metrics
    assert not np.isnan(server.rss_mb())


def test_chat_typed_turns_that_are_not_text_get_an_error_not_an_answer(server):
    """{"text": "\\ud800"} (a lone surrogate: blank once cleaned) was answered with the brain's goodbye
    ("You're welcome. Thank you for calling ..."), and a null, number or list text with the answer to
    "None", "5" or "[1, 2]"; each is an InputError now, and the session goes on."""

    async def run():
        async with connect(_ws(server, "/v1/chat?speak=false"), open_timeout=60) as ws:
            await asyncio.wait_for(ws.recv(), 60)
            for raw in ('{"type": "text", "text": "\\ud800"}', '{"type": "text", "text": "\\udfff \\ud800"}',
                        '{"type": "text", "text": null}', '{"type": "text", "text": 5}',
                        '{"type": "text", "text": [1, 2]}', '{"type": "text", "text": "balance", "language": 5}'):
                await ws.send(raw)
                events = await _events_until(ws, ("error", "bot_text_end"), timeout_s=60)
                assert events[-1]["type"] == "error" and events[-1]["error"]["type"] == "InputError", (raw, events)
            await ws.send(json.dumps({"type": "text", "text": "How do I open an account?"}))
            await ws.send(json.dumps({"type": "close"}))
            events = await _events_until(ws, ("bot_text_end", "error"), timeout_s=120)
            assert events[-1]["type"] == "bot_text_end", events[-3:]

    asyncio.run(run())
    _alive(server)


@pytest.mark.parametrize("name, data", [("kb.yaml", b"\xff\xfe\x00entries"), ("kb.csv", b"q,a\n\xff,x\n"),
                                        ("kb.md", b"# T\n\xff\n")])
def test_a_knowledge_base_that_is_not_utf8_is_one_clear_error(tmp_path, name, data):
    """'tingshuo chat check-kb' (and serve --kb, chat --kb) said 'unexpected UnicodeDecodeError', exit 70."""
    from tingshuo.dialogue.kb import load_kb
    from tingshuo.errors import TingshuoError

    (tmp_path / name).write_bytes(data)
    with pytest.raises(TingshuoError, match="not UTF-8"):
        load_kb(tmp_path / name)
