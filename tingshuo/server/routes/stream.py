"""WebSockets: live transcription (``/v1/stream/transcribe``) and voice chat (``/v1/chat``).

Client -> server: binary messages are PCM16 little-endian mono audio (16 kHz unless the
``sample_rate`` query parameter, for chat ``input_sample_rate``, says otherwise); text messages are JSON commands:
``{"type": "end"}`` (no more audio: finish the utterance), and for chat
``{"type": "text", "text": "..."}`` (a typed turn) and ``{"type": "interrupt"}``.

Server -> client: JSON events (``ready``, ``speech_start``, ``partial``, ``final`` with segment
timestamps, ``done``, ``error``; chat adds the pipeline's frames as events) and, for chat, binary
PCM16 mono audio of the answers at ``sample_rate_out``. The first event, ``ready``, gives the rates.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import re
import time

import numpy as np
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from ...errors import TingshuoError

router = APIRouter()
log = logging.getLogger("tingshuo.server")
MAX_MESSAGE_BYTES = 1 << 20


def _pcm(data: bytes, leftover: bytearray) -> np.ndarray:
    """int16 LE bytes -> float32, carrying an odd trailing byte over to the next message."""
    buf = bytes(leftover) + data
    n = len(buf) - len(buf) % 2
    leftover[:] = buf[n:]
    return np.frombuffer(buf[:n], "<i2").astype(np.float32) / 32768.0


class _Session:
    """Bookkeeping shared by both sockets: admission, metrics, ordered sends, the audio limit."""

    def __init__(self, ws: WebSocket, route: str) -> None:
        self.ws = ws
        self.route = route
        self.services = ws.app.state.services
        self.lock = asyncio.Lock()
        self.audio_s = 0.0
        self.open = False
        self._leftover = bytearray()

    async def start(self) -> bool:
        await self.ws.accept()
        m = self.services.metrics
        if m.ws_open >= self.services.config.queue_size:
            await self.send_json({"type": "error", "error": {"type": "Overloaded",
                                                             "message": "Too many live sessions; retry shortly."}})
            await self.ws.close(code=1013)
            return False
        self.open = True
        m.ws_open += 1
        m.websockets[self.route] += 1
        return True

    def count(self, samples: np.ndarray, rate: int) -> None:
        self.audio_s += samples.size / rate
        limit = self.services.config.max_audio_s
        if self.audio_s > limit:
            from ...errors import AudioTooLongError

            raise AudioTooLongError(f"The stream passed the audio limit of {limit:g} s; open a new session.")

    async def receive(self, rate: int) -> tuple[np.ndarray | None, dict | None] | None:
        """The next message: (audio samples, None) for PCM16, (None, command) for JSON text; None on disconnect.

        Audio is counted against the session's limit as it arrives.
        """
        msg = await self.ws.receive()
        if msg["type"] == "websocket.disconnect":
            return None
        if msg.get("bytes") is not None:
            samples = _pcm(msg["bytes"], self._leftover)
            self.count(samples, rate)
            return samples, None
        return None, _command(msg.get("text") or "")

    async def send_json(self, obj: dict) -> None:
        async with self.lock:
            await self.ws.send_text(json.dumps(obj, ensure_ascii=False))

    async def send_bytes(self, data: bytes) -> None:
        async with self.lock:
            await self.ws.send_bytes(data)

    async def error(self, exc: BaseException) -> None:
        kind = exc.kind if isinstance(exc, TingshuoError) else "EngineError"
        try:
            await self.send_json({"type": "error", "error": {"type": kind, "message": str(exc)}})
        except Exception:  # noqa: BLE001 — the client may be gone
            pass

    async def close(self) -> None:
        if self.open:
            self.open = False
            self.services.metrics.ws_open -= 1
            self.services.metrics.audio(self.route, self.audio_s)
        try:
            await self.ws.close()
        except Exception:  # noqa: BLE001 — already closed
            pass


def _query(ws: WebSocket, cls, skip=()) -> object:
    from ...options import from_mapping

    values = {k: v for k, v in ws.query_params.items() if k not in ("api_key", *skip)}
    return from_mapping(cls, values)


def _input_rate(ws: WebSocket, name: str = "sample_rate") -> int:
    from ...errors import InputError

    raw = ws.query_params.get(name, "16000")
    if not raw.isdigit() or not 8000 <= int(raw) <= 48000:
        raise InputError(f"{name} must be an integer between 8000 and 48000 Hz, not {raw!r}.")
    return int(raw)


@dataclasses.dataclass(frozen=True)
class StreamParams:
    language: str | None = None
    partial_interval_s: float = 0.8
    word_timestamps: bool = False


@router.websocket("/v1/stream/transcribe")
async def stream_transcribe(ws: WebSocket):
    """Live transcription: PCM16 in, speech_start / partial / final events out."""
    s = _Session(ws, "/v1/stream/transcribe")
    if not await s.start():
        return
    inbox = None
    try:
        from ...asr.base import TranscribeOptions
        from ...asr.streaming import StreamingRecognizer
        from ...audio.resample import resample

        rate = _input_rate(ws)
        params = _query(ws, StreamParams, skip=("sample_rate",))
        opts = TranscribeOptions(language=params.language, word_timestamps=params.word_timestamps)
        # No decoding ahead here: every decode of this socket goes through the server's admission.
        rec = await s.services.run(lambda: StreamingRecognizer(s.services.engine(), opts, speculate=False,
                                                               partial_interval_s=params.partial_interval_s))
        await s.send_json({"type": "ready", "sample_rate": rate})
        inbox = _Inbox(s, rate)
        while True:
            got = await inbox.next()
            if got is None:
                return
            samples, cmd = got
            if samples is not None:
                if rate != 16000:
                    samples = resample(samples, rate, 16000)
                events = await s.services.run(rec.accept, samples)
            else:
                if cmd.get("type") not in ("end", "stop", "close"):
                    await s.send_json({"type": "error", "error": {"type": "InputError", "message":
                                       "Send PCM16 audio as binary messages and {\"type\": \"end\"} to finish."}})
                    continue
                events = await s.services.run(rec.finish)
            for ev in events:
                await s.send_json(ev.to_dict())
            if samples is None:
                await s.send_json({"type": "done", "duration": round(rec.position_s, 3)})
                return
    except WebSocketDisconnect:
        return
    except Exception as exc:  # noqa: BLE001 — reported to the client, then the socket closes
        if not isinstance(exc, TingshuoError):
            log.exception("stream failed")
        await s.error(exc)
    finally:
        if inbox is not None:
            inbox.close()
        await s.close()


class _Inbox:
    """Reads the socket in a task of its own, so that a client sending faster than recognition runs still has
    its pongs read (otherwise they wait behind the unread audio and the keepalive closes the socket, 1011);
    ``next`` joins the audio messages already waiting into one, so a recogniser that fell behind catches up
    with one decode instead of one per message. At most ``MAX_WAITING`` messages wait (backpressure)."""

    MAX_WAITING = 32
    _NOTHING = object()

    def __init__(self, session: _Session, rate: int) -> None:
        self._q: asyncio.Queue = asyncio.Queue(self.MAX_WAITING)
        self._held = self._NOTHING
        self._task = asyncio.create_task(self._read(session, rate))

    async def _read(self, session: _Session, rate: int) -> None:
        try:
            while True:
                got = await session.receive(rate)
                await self._q.put(got)
                if got is None:
                    return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 — handed to the loop that reads the inbox
            await self._q.put(exc)

    async def next(self):
        """Like ``_Session.receive``: (samples, None), (None, command), or None when the client has gone."""
        if self._held is not self._NOTHING:
            got, self._held = self._held, self._NOTHING
        else:
            got = await self._q.get()
        if isinstance(got, BaseException):
            raise got
        if got is None or got[0] is None:
            return got
        parts = [got[0]]
        while not self._q.empty():
            nxt = self._q.get_nowait()
            if nxt is None or isinstance(nxt, BaseException) or nxt[0] is None:
                self._held = nxt  # a command, an error or the end: after this audio
                break
            parts.append(nxt[0])
        return (np.concatenate(parts) if len(parts) > 1 else parts[0]), None

    def close(self) -> None:
        self._task.cancel()


def _command(text: str) -> dict:
    try:
        obj = json.loads(text)
        return obj if isinstance(obj, dict) else {}
    except ValueError:
        return {}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def frame_event(frame) -> dict | None:
    """A pipeline frame as a JSON event: its type in snake case and its fields (no perf stamps, no audio)."""
    if hasattr(frame, "to_dict") and type(frame).__name__ == "TurnMetrics":
        return {"type": "turn_metrics", **frame.to_dict()}
    out = {"type": _snake(type(frame).__name__)}
    for f in dataclasses.fields(frame):
        if f.name == "t" or f.name.startswith("t_") or f.name == "samples":
            continue
        v = getattr(frame, f.name)
        out[f.name] = round(v, 3) if isinstance(v, float) else v
    return out


@router.websocket("/v1/chat")
async def chat(ws: WebSocket):
    """Voice dialogue with the knowledge-base assistant: caller audio or text in, events and answer audio out."""
    from ...dialogue import frames as F
    from ...dialogue.pipeline import ChatOptions, VoicePipeline

    s = _Session(ws, "/v1/chat")
    if not await s.start():
        return
    pipeline = None
    try:
        rate = _input_rate(ws, "input_sample_rate")  # sample_rate is the answers' rate (ChatOptions)
        options = _query(ws, ChatOptions, skip=("input_sample_rate",))
        services = s.services
        brain = await services.run(services.brain)
        pipeline = await services.run(lambda: VoicePipeline(brain, options, engine=services.engine(), realtime=True))

        async def on_frame(frame) -> None:
            try:
                await forward(frame)
            except WebSocketDisconnect:  # the caller hung up mid-answer: the receive loop sees it and ends
                pass

        async def forward(frame) -> None:
            if isinstance(frame, F.OutputAudio):
                if frame.samples.size:
                    if frame.text:
                        await s.send_json({"type": "audio_start", "turn": frame.turn, "text": frame.text,
                                           "sample_rate": frame.sample_rate})
                    pcm = (np.clip(frame.samples, -1, 1) * 32767).astype("<i2").tobytes()
                    await s.send_bytes(pcm)
                return
            if isinstance(frame, (F.InputAudio, F.StartFrame, F.EndFrame)):
                return
            event = frame_event(frame)
            if event is not None:
                await s.send_json(event)

        pipeline.on_frame(on_frame)
        await pipeline.start()
        await s.send_json({"type": "ready", "sample_rate_in": rate, "sample_rate_out": options.sample_rate,
                           "knowledge_base": getattr(getattr(brain, "kb", None), "name", None)})
        while True:
            got = await s.receive(rate)
            if got is None:
                return
            samples, cmd = got
            if samples is not None:
                await pipeline.feed(samples, rate)
                continue
            kind = cmd.get("type")
            if kind == "text" and (not isinstance(cmd.get("text"), str) or
                                   not isinstance(cmd.get("language"), (str, type(None)))):
                # (not str(): a null, a number or a list was answered as the text "None", "5", "[1, 2]")
                await s.send_json({"type": "error", "error": {"type": "InputError", "message":
                                   "A typed turn is {\"type\": \"text\", \"text\": \"...\"} with a string "
                                   "text (and, optionally, a string language)."}})
            elif kind == "text" and cmd["text"].strip():
                try:
                    await pipeline.say(cmd["text"].strip(), cmd.get("language"))
                except TingshuoError as exc:  # a turn too long or blank: say so, keep the session
                    await s.error(exc)
            elif kind == "interrupt":
                if pipeline.busy:
                    await pipeline.interrupt(time.perf_counter())
            elif kind == "end":
                await pipeline.end_of_input()
            elif kind == "close":
                await pipeline.wait_idle(timeout_s=s.services.config.request_timeout_s)
                return
            else:
                await s.send_json({"type": "error", "error": {"type": "InputError", "message":
                                   "Unknown message; send PCM16 audio (binary) or JSON with type text, interrupt, "
                                   "end or close."}})
    except WebSocketDisconnect:
        return
    except Exception as exc:  # noqa: BLE001
        if not isinstance(exc, TingshuoError):
            log.exception("chat failed")
        await s.error(exc)
    finally:
        if pipeline is not None:
            try:
                await pipeline.close()
            except Exception:  # noqa: BLE001
                pass
        await s.close()
