"""WebSockets of a real `tingshuo serve`: live transcription with partials, and voice chat with barge-in."""

from __future__ import annotations

import asyncio
import json
import time

import numpy as np
import pytest

pytest.importorskip("websockets")
from websockets.asyncio.client import connect  # noqa: E402

FRAME_S = 0.1


def _pcm16(path) -> bytes:
    from tingshuo.audio.io import load_audio

    return (np.clip(load_audio(path).samples, -1, 1) * 32767).astype("<i2").tobytes()


def _ws(server, path: str) -> str:
    return server.url.replace("http://", "ws://") + path


async def _recv_until(ws, done, timeout_s: float = 90.0) -> list:
    """Messages (JSON dicts and bytes) until ``done(messages)`` or the timeout."""
    out = []
    deadline = time.monotonic() + timeout_s
    while not done(out):
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"timed out; got {[m for m in out if isinstance(m, dict)]}")
        msg = await asyncio.wait_for(ws.recv(), left)
        out.append(json.loads(msg) if isinstance(msg, str) else msg)
    return out


def test_stream_transcribe_gives_partials_and_timed_finals(server, data_dir):
    pcm = _pcm16(data_dir / "jfk.wav")
    step = int(16000 * FRAME_S) * 2

    async def run():
        async with connect(_ws(server, "/v1/stream/transcribe?language=en&partial_interval_s=0.5"),
                           open_timeout=30) as ws:
            assert json.loads(await asyncio.wait_for(ws.recv(), 30))["type"] == "ready"
            events: list = []

            async def reader():
                events.extend(await _recv_until(ws, lambda m: m and m[-1]["type"] in ("done", "error")))

            task = asyncio.create_task(reader())
            sizes = [step + 1, step - 1]  # odd byte counts: the server carries a byte over
            i = k = 0
            while i < len(pcm):
                n = sizes[k % 2]
                await ws.send(pcm[i:i + n])
                i += n
                k += 1
                if i < 4 * 16000 * 2:  # the first seconds as a live caller speaks them: partials are due
                    await asyncio.sleep(FRAME_S)  # then the rest at once (a sender that runs ahead is joined)
            await ws.send(json.dumps({"type": "end"}))
            await asyncio.wait_for(task, 120)
            return events

    events = asyncio.run(run())
    kinds = [e["type"] for e in events]
    assert "error" not in kinds, events
    assert kinds[0] == "speech_start" and kinds[-1] == "done"
    assert "partial" in kinds
    finals = [e for e in events if e["type"] == "final"]
    text = " ".join(f["text"] for f in finals).lower()
    assert "americans" in text and "country" in text
    for f in finals:
        assert 0 <= f["start"] < f["end"] <= 11.5 and f["segments"]
        assert all(f["start"] - 0.5 <= s["start"] <= s["end"] <= f["end"] + 0.5 for s in f["segments"])
    assert abs(events[-1]["duration"] - 11.0) < 0.1


def test_stream_reports_bad_messages_and_keeps_going(server):
    async def run():
        async with connect(_ws(server, "/v1/stream/transcribe"), open_timeout=30) as ws:
            await asyncio.wait_for(ws.recv(), 30)
            await ws.send("hello?")
            err = json.loads(await asyncio.wait_for(ws.recv(), 30))
            assert err["type"] == "error" and "PCM16" in err["error"]["message"]
            await ws.send(np.zeros(16000, "<i2").tobytes())
            await ws.send(json.dumps({"type": "end"}))
            msgs = await _recv_until(ws, lambda m: m and m[-1]["type"] == "done", 60)
            assert [m["type"] for m in msgs] == ["done"]  # silence: no speech events

    asyncio.run(run())


def test_stream_rejects_bad_query(server):
    async def run():
        async with connect(_ws(server, "/v1/stream/transcribe?partial_interval_s=soon"), open_timeout=30) as ws:
            msg = json.loads(await asyncio.wait_for(ws.recv(), 30))
            assert msg["type"] == "error" and "partial_interval_s" in msg["error"]["message"]

    asyncio.run(run())


def test_chat_text_turn_then_barge_in(server, data_dir):
    speech = _pcm16(data_dir / "jfk.wav")

    async def run():
        async with connect(_ws(server, "/v1/chat?sample_rate=16000&input_sample_rate=16000"), open_timeout=30,
                           max_size=None) as ws:
            ready = json.loads(await asyncio.wait_for(ws.recv(), 60))
            assert ready["type"] == "ready" and ready["sample_rate_out"] == 16000 and ready["sample_rate_in"] == 16000
            await ws.send(json.dumps({"type": "text", "text": "How do I check my account balance?"}))
            msgs = await _recv_until(ws, lambda m: any(isinstance(x, dict) and x["type"] == "bot_stopped_speaking"
                                                       for x in m), 120)
            answer = [m for m in msgs if isinstance(m, dict) and m["type"] == "bot_text_end"]
            assert answer and "95588" in answer[0]["text"]
            audio = b"".join(m for m in msgs if isinstance(m, bytes))
            assert len(audio) / 2 / 16000 > 2.0  # the spoken answer, PCM16 at the asked rate

            # a long answer, interrupted by the caller speaking over it
            await ws.send(json.dumps({"type": "text", "text": "I lost my bank card."}))
            await _recv_until(ws, lambda m: any(isinstance(x, bytes) for x in m), 120)
            step = 3200
            for i in range(0, len(speech), step):
                await ws.send(speech[i:i + step])
                await asyncio.sleep(0.02)
            await ws.send(json.dumps({"type": "end"}))
            rest = await _recv_until(ws, lambda m: any(isinstance(x, dict) and x["type"] == "transcription_final"
                                                       for x in m), 120)
            events = [m for m in rest if isinstance(m, dict)]
            kinds = [e["type"] for e in events]
            assert "interruption" in kinds
            stopped = [e for e in events if e["type"] == "bot_stopped_speaking"]
            assert stopped and stopped[0]["interrupted"] is True
            final = [e for e in events if e["type"] == "transcription_final"][0]
            assert "americans" in final["text"].lower()

    asyncio.run(run())
