"""OpenAI-compatible audio endpoints: transcriptions, translations, speech.

Field names, defaults and response shapes follow https://platform.openai.com/docs/api-reference/audio
so that the official ``openai`` client works unchanged against ``base_url=http://HOST:PORT/v1``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from typing import Literal, Optional

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from pydantic import BaseModel, Field

from ...errors import TingshuoError, UnknownNameError
from ..errors import ParamError, SpeechTooLong
from ..uploads import saved_upload

router = APIRouter()
log = logging.getLogger("tingshuo.server")

ASR_ALIASES = ("whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe", "default")
TTS_MODELS = ("tts-1", "tts-1-hd", "gpt-4o-mini-tts", "tingshuo", "default")
OPENAI_VOICES = ("alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer", "verse")
TranscriptFormat = Literal["json", "text", "srt", "vtt", "verbose_json"]


def _services(request: Request):
    return request.app.state.services


def _check_model(services, model: str | None) -> None:
    served = services.transcriber().model_name if services._transcriber is not None else None
    if not model or model in ASR_ALIASES or model == served or model == services.config.model:
        return
    raise ParamError("model", f"Model '{model}' is not served here; use whisper-1 (an alias) or "
                              f"{served or 'the model the server was started with'}.")


def _check_language(language: str | None) -> str | None:
    if language is None or not language.strip() or language.strip().lower() == "auto":
        return None
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    from ...asr.text import normalize_language

    # The same spellings 'tingshuo transcribe --language' and manifests take: zh-CN, zh_TW, cmn, Chinese, eng
    code = normalize_language(language)
    if code is not None and code not in _LANGUAGE_CODES:
        raise ParamError("language", f"Field 'language': '{language}' is not a language code Whisper knows "
                                     "(ISO 639-1, e.g. en, zh, de).")
    return code


def _options(services, *, task: str, language, prompt, temperature: float, words: bool):
    from ...asr.base import TranscribeOptions

    if not 0.0 <= temperature <= 1.0:
        raise ParamError("temperature", "Field 'temperature': must be between 0 and 1.")
    base = TranscribeOptions(batch_size=services.config.batch_size)
    temps = base.temperatures if temperature == 0 else (temperature, *[t for t in base.temperatures if t > temperature])
    return dataclasses.replace(base, task=task, language=language, initial_prompt=prompt or None,
                               word_timestamps=words, temperatures=temps)


def _load(services, path: str, label: str):
    """The upload at 16 kHz, decoded in a worker process: a decoder crash fails this request only."""
    return services.decoder.load(path, 16000, max_duration_s=services.config.max_audio_s, label=label)


async def _run_asr(request: Request, file: UploadFile, options, route: str):
    services = _services(request)
    async with services.admitted():
        # The upload is checked first (size, format, length: bounded by the limits), so bad input gets
        # its own 4xx on a busy server; the deadline covers the recognition.
        async with saved_upload(services, file) as (path, label):
            audio = await services.run(_load, services, path, label)
        if audio.n_samples == 0:
            from ...errors import AudioDecodeError

            raise AudioDecodeError(f"{file.filename}: the file holds no audio samples.")
        transcript = await services.with_timeout(services.transcribe(audio, options))
    services.metrics.audio(route, audio.duration_s)
    return transcript


def _verbose(transcript, task: str, words: bool, segments: bool) -> dict:
    out = {"task": task, "language": transcript.language or "", "duration": round(transcript.duration_s, 3),
           "text": transcript.text}
    if segments:
        out["segments"] = [{"id": i, "seek": 0, "start": round(s.start_s, 3), "end": round(s.end_s, 3), "text": s.text,
                            "tokens": [], "temperature": s.temperature, "avg_logprob": round(s.avg_logprob, 4),
                            "compression_ratio": round(s.compression_ratio, 3),
                            "no_speech_prob": round(s.no_speech_prob, 4)}
                           for i, s in enumerate(transcript.segments)]
    if words:
        out["words"] = [{"word": w.text.strip(), "start": round(w.start_s, 3), "end": round(w.end_s, 3)}
                        for s in transcript.segments for w in s.words]
    return out


def _respond(transcript, fmt: str, task: str, granularities: list[str]):
    from ...asr.formats import to_srt, to_vtt

    if fmt == "text":
        return PlainTextResponse(transcript.text + "\n")
    if fmt == "srt":
        return PlainTextResponse(to_srt(transcript), media_type="application/x-subrip")
    if fmt == "vtt":
        return PlainTextResponse(to_vtt(transcript), media_type="text/vtt")
    if fmt == "verbose_json":
        words = "word" in granularities
        return JSONResponse(_verbose(transcript, task, words, "segment" in granularities or not words))
    return JSONResponse({"text": transcript.text})


def _granularities(values: list[str] | None) -> list[str]:
    out = [v for v in (values or []) if v]
    for v in out:
        if v not in ("word", "segment"):
            raise ParamError("timestamp_granularities[]", f"Field 'timestamp_granularities[]': '{v}' is not one of "
                                                          "word, segment.")
    return out


@router.post("/v1/audio/transcriptions")
async def transcriptions(request: Request, file: UploadFile = File(...), model: str = Form("whisper-1"),
                         language: Optional[str] = Form(None), prompt: Optional[str] = Form(None),
                         response_format: TranscriptFormat = Form("json"), temperature: float = Form(0.0),
                         timestamp_granularities: Optional[list[str]] = Form(None, alias="timestamp_granularities[]")):
    """Speech to text (OpenAI ``audio.transcriptions.create``)."""
    services = _services(request)
    _check_model(services, model)
    grans = _granularities(timestamp_granularities)
    if grans and response_format != "verbose_json":
        raise ParamError("timestamp_granularities[]", "Field 'timestamp_granularities[]': needs "
                                                      "response_format verbose_json.")
    opts = _options(services, task="transcribe", language=_check_language(language), prompt=prompt,
                    temperature=temperature, words="word" in grans or response_format in ("srt", "vtt"))
    transcript = await _run_asr(request, file, opts, "/v1/audio/transcriptions")
    return _respond(transcript, response_format, "transcribe", grans)


@router.post("/v1/audio/translations")
async def translations(request: Request, file: UploadFile = File(...), model: str = Form("whisper-1"),
                       prompt: Optional[str] = Form(None), response_format: TranscriptFormat = Form("json"),
                       temperature: float = Form(0.0)):
    """Speech in any language to English text (OpenAI ``audio.translations.create``)."""
    services = _services(request)
    _check_model(services, model)
    opts = _options(services, task="translate", language=None, prompt=prompt, temperature=temperature,
                    words=response_format in ("srt", "vtt"))
    transcript = await _run_asr(request, file, opts, "/v1/audio/translations")
    return _respond(transcript, response_format, "translate", [])


class SpeechRequest(BaseModel):
    model: str = "tts-1"
    input: str = Field(..., min_length=1, max_length=4096)
    voice: str = "alloy"
    response_format: Literal["wav", "mp3", "flac", "opus", "aac", "pcm"] = "mp3"
    speed: float = Field(1.0, ge=0.25, le=4.0)
    instructions: Optional[str] = None


# Seconds of speech per spoken unit at speed 1 (measured: 4096 x "nine" made 955 s, 4096 x 中 748 s).
SECONDS_PER_WORD = 0.3
SECONDS_PER_HAN = 0.19


def _estimate_speech_s(text: str, speed: float) -> float:
    """About how long ``text`` takes to say: words and Chinese characters of its spoken form (numbers
    read out: "9999" is four words), before any audio is made."""
    from ...tts.normalize import normalize
    from ...tts.text import HAN_RE

    spoken = normalize(text)
    han = len(HAN_RE.findall(spoken))
    words = len(HAN_RE.sub(" ", spoken).split())
    return (SECONDS_PER_WORD * words + SECONDS_PER_HAN * han) / speed


def _voice(name: str) -> str | None:
    """A tingshuo voice name, or None for the default voice of each language (OpenAI's voice names)."""
    if not name.strip() or name.lower() in OPENAI_VOICES or name.lower() in ("default", "auto"):  # "" as the CLI
        return None
    from ...tts import get_voice

    try:
        return get_voice(name).name
    except UnknownNameError as exc:
        raise ParamError("voice", f"Field 'voice': {exc}") from None


@router.post("/v1/audio/speech")
async def speech(request: Request, body: SpeechRequest):
    """Text to speech, streamed sentence by sentence (OpenAI ``audio.speech.create``)."""
    from ...tts import SpeakOptions, synthesize_stream
    from ..encode import FIXED_RATES, MEDIA_TYPES, StreamEncoder

    services = _services(request)
    if body.model not in TTS_MODELS:
        raise ParamError("model", f"Field 'model': '{body.model}' is not one of {', '.join(TTS_MODELS)}.")
    voice = _voice(body.voice)
    opts = SpeakOptions(rate=body.speed, sample_rate=FIXED_RATES.get(body.response_format))
    cap_s = services.config.max_speech_s
    estimate_s = await services.run(_estimate_speech_s, body.input, body.speed)
    if estimate_s > cap_s:  # before any audio is made (4096 digits are read one by one: 16 min, 141 s of CPU)
        raise SpeechTooLong(f"Field 'input' would make about {estimate_s / 60:.0f} minutes of speech; this server "
                            f"makes at most {cap_s / 60:g} per request (--max-speech-s). Split the text into "
                            "several requests.")
    loop = asyncio.get_running_loop()
    q: asyncio.Queue = asyncio.Queue()
    stop = {"flag": False}
    deadline = time.monotonic() + services.config.request_timeout_s
    seconds = {"s": 0.0}
    cut: list[str] = []  # why the speech stopped before the end of the text, once it did

    def produce() -> None:
        encoder = None
        try:
            for chunk in synthesize_stream(body.input, voice, opts):
                if stop["flag"]:
                    break
                if seconds["s"] > cap_s or time.monotonic() > deadline:  # the estimate is a guess: the cap
                    cut.append(f"the speech reached this server's limit of {cap_s:g} s (--max-speech-s)"  # holds too
                               if seconds["s"] > cap_s else
                               f"the speech took longer than {services.config.request_timeout_s:g} s to make "
                               "(--request-timeout-s)")
                    break
                if encoder is None:
                    encoder = StreamEncoder(body.response_format, chunk.sample_rate)
                seconds["s"] += chunk.duration_s
                data = encoder.add(chunk.samples)
                if data:
                    loop.call_soon_threadsafe(q.put_nowait, data)
            if encoder is not None and not stop["flag"]:
                loop.call_soon_threadsafe(q.put_nowait, encoder.finish())
        except BaseException as exc:  # noqa: BLE001 — handed to the response
            loop.call_soon_threadsafe(q.put_nowait, exc)
        finally:
            if encoder is not None:
                encoder.close()
            loop.call_soon_threadsafe(q.put_nowait, None)

    stack = contextlib.AsyncExitStack()
    await stack.enter_async_context(services.admitted())
    try:
        fut = loop.run_in_executor(services.pool, produce)
        first = await services.with_timeout(q.get())  # errors (empty text, unknown voice) before any byte
        if isinstance(first, BaseException):
            raise first
    except BaseException:
        stop["flag"] = True
        await stack.aclose()
        raise

    async def stream():
        try:
            item = first
            while item is not None:
                if isinstance(item, BaseException):
                    if not isinstance(item, TingshuoError):
                        raise item
                    cut.append(str(item))  # the status line is sent: the transfer is broken off (below)
                    break
                yield item
                item = await q.get()
            await fut
        finally:
            stop["flag"] = True
            services.metrics.audio("/v1/audio/speech", seconds["s"])
            await stack.aclose()

    return _SpeechResponse(stream(), media_type=MEDIA_TYPES[body.response_format], cut=cut,
                           label=f"/v1/audio/speech ({len(body.input)} characters)")


class _SpeechResponse(StreamingResponse):
    """A speech stream that, when the speech stopped before the end of the text (the --max-speech-s cap
    on audio the estimate let through, the request deadline, an error mid-text), is broken off without its
    last chunk: the status line (200) was sent long before, so that is what a client can see. curl exits
    18 ("transfer closed with outstanding read data remaining"), httpx and the OpenAI client raise
    "incomplete chunked read". It used to end like a finished stream: the text silently cut short."""

    def __init__(self, content, *, cut: list[str], label: str, **kwargs) -> None:
        super().__init__(content, **kwargs)
        self.cut, self.label = cut, label

    async def stream_response(self, send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        async for chunk in self.body_iterator:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        if self.cut:
            log.warning("%s: stopped before the end of the text: %s; the transfer is broken off so the client "
                        "sees the speech is incomplete", self.label, self.cut[0])
            return
        await send({"type": "http.response.body", "body": b"", "more_body": False})
