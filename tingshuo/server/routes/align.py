"""``POST /v1/align``: an upload and its text -> word (character) times, as JSON or TextGrid/CTM/SRT/VTT.

Same limits as the transcription endpoints (upload size, audio length, request deadline, queue,
API key). The aligner shares the server's recogniser (one model in memory, one model call at a
time).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Literal, Optional, Union

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse

from ..errors import ParamError, RequestTimeout
from ..uploads import saved_upload

router = APIRouter()
log = logging.getLogger("tingshuo.server")
MAX_TEXT_CHARS = 200_000  # about three hours of read speech
AlignFormat = Literal["json", "textgrid", "ctm", "srt", "vtt"]
MEDIA_TYPES = {"textgrid": "text/plain", "ctm": "text/plain", "srt": "application/x-subrip", "vtt": "text/vtt"}
_lock = threading.Lock()
# Windows (and 30 s recognition chunks) per model call for the server's aligns (the CLI's default is 8): a
# request stopped by its deadline or its client lets go of the model at its next call, and one call of
# 8 x 30 s took up to 130-170 s under load, so a 504'd align held the model for minutes (qa5). Smaller
# calls cost nothing on a CPU: a 176 s recording (jfk x 16) aligned in 163 / 162 s with 8 per call, 149 s
# with 2 and 146 s with 1, the same 352 words (whisper-base, 2 shared cores under load).
ALIGN_BATCH = 2
WATCH_CLIENT_S = 0.5  # how often a running align looks whether its client is still there


def _aligner(services):
    """One ``Aligner`` per server, built on first use (it shares the recogniser's loaded model)."""
    with _lock:
        aligner = getattr(services, "_aligner", None)
        if aligner is None:
            from ...align.aligner import Aligner
            from ...align.base import AlignOptions

            aligner = Aligner(AlignOptions(model=services.config.model, cpu_threads=services.config.cpu_threads,
                                           batch_size=ALIGN_BATCH))
            services._aligner = aligner
        return aligner


class _CheckedLock:
    """The model's lock, checking that the request is still wanted before waiting and once it is granted."""

    def __init__(self, lock, check) -> None:
        self._inner, self._check = lock, check

    def __enter__(self):
        self._check()
        self._inner.acquire()
        try:
            self._check()
        except BaseException:
            self._inner.release()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self._inner.release()


class _StoppableEngine:
    """The shared recogniser as one align request sees it: each model call first runs ``check``, which
    raises once the request is over (deadline passed, client gone). Everything else is the engine's."""

    def __init__(self, engine, check) -> None:
        self._engine, self._check = engine, check
        self._lock = _CheckedLock(engine._lock, check)

    def __getattr__(self, name):
        return getattr(self._engine, name)

    def transcribe_batch(self, *args, **kwargs):
        # the engine's own method run on this view, so that its ``with self._lock:`` is the checked lock: a
        # request that timed out while it waited for the model does not use it once its turn comes
        return type(self._engine).transcribe_batch(self, *args, **kwargs)


def stoppable(aligner, check):
    """A view of the server's ``Aligner`` for one request whose every model call runs ``check`` first:
    a timed-out or abandoned align stops at its next model call (a request that timed out while it waited
    for the model never uses it) instead of at the end of its current batch."""
    import copy

    engine = _StoppableEngine(aligner.engine, check)
    view = copy.copy(aligner)
    view.engine = engine
    view.forced = copy.copy(aligner.forced)
    view.forced.engine = engine
    return view


async def _watch_client(request: Request, stopped: threading.Event) -> None:
    """Set ``stopped`` when the client hangs up (the align would otherwise run on for nobody)."""
    while not stopped.is_set():
        if await request.is_disconnected():
            log.info("/v1/align: the client went away; stopping its alignment")
            stopped.set()
            return
        await asyncio.sleep(WATCH_CLIENT_S)


async def _one_each(request: Request, names) -> None:
    """A field sent twice is refused: FastAPI would silently keep the last one (another file, another text)."""
    form = await request.form()  # already parsed (and cached) for the parameters
    for name in names:
        n = len(form.getlist(name))
        if n > 1:
            raise ParamError(name, f"Field '{name}': sent {n} times; send one (align one recording per request).")


async def _text_of(text) -> str:
    """The text field as text: a file part is decoded as the CLI reads a TEXT file; a plain field that was
    not UTF-8 (Starlette then decodes it as Latin-1) is refused instead of aligning mojibake."""
    from ...data.text import decode_text
    from ...errors import InputError

    if not isinstance(text, str):
        data = await text.read(4 * MAX_TEXT_CHARS + 1)
        if len(data) > 4 * MAX_TEXT_CHARS:
            raise ParamError("text", f"Field 'text': the file is over {4 * MAX_TEXT_CHARS // 1000} kB; "
                                     "split the recording and its text.")
        try:
            # the whole text, as the plain field: decode_text looks for NUL bytes in the first 4 kB only
            return _no_nul(decode_text(data, f"Field 'text' ({text.filename or 'file'})"))
        except InputError as exc:
            message = str(exc).replace("give the audio first and then the text that was read",
                                       "send the recording as 'file' and its words as 'text'")
            raise ParamError("text", message) from None
    if text and "\x80" <= max(text) <= "\xff" and not _utf8_latin1(text):
        # Starlette decodes a field that is not UTF-8 as Latin-1, so ``text`` is either that mojibake or
        # genuine text whose letters all lie in Latin-1 (French, German). UTF-16 starts with its BOM; a
        # legacy encoding shows C1 controls (cp1252 quotes) or mostly high bytes (GBK: every byte).
        nonspace = len("".join(text.split()))
        high = sum(c >= "\x80" for c in text)
        if text[:2] in ("\xff\xfe", "\xfe\xff") or any("\x80" <= c <= "\x9f" for c in text) \
                or (nonspace >= 8 and high > 0.6 * nonspace):
            try:
                return _no_nul(decode_text(text.encode("latin-1"), "Field 'text'"))
            except InputError as exc:
                raise ParamError("text", f"{str(exc).rstrip('.')}; or send the field UTF-8 encoded.") from None
    return _no_nul(text)


def _utf8_latin1(text: str) -> bool:
    try:
        text.encode("latin-1").decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def _no_nul(text: str) -> str:
    if "\x00" in text:
        raise ParamError("text", "Field 'text' holds NUL characters (UTF-16 or binary data?); send the words "
                                 "as UTF-8 text.")
    return text


@router.post("/v1/align")
async def align(request: Request, file: UploadFile = File(...), text: Union[UploadFile, str] = Form(...),
                language: Optional[str] = Form(None), response_format: AlignFormat = Form("json")):
    """Forced alignment of ``text`` to the speech in ``file``: ``{"audio", "language", "words": [{"text",
    "start_s", "end_s", "score"}], "unaligned": [{"text", "start_s", "end_s", "kind"}], "duration_s"}``.
    ``text`` may also be sent as a file part (``curl -F text=@script.txt``): UTF-8, or UTF-16 with a BOM."""
    from ...align.formats import render
    from .audio import _check_language, _load

    services = request.app.state.services
    await _one_each(request, ("file", "text", "language", "response_format"))
    text = await _text_of(text)
    if not text.strip():
        raise ParamError("text", "Field 'text': empty; send the words that were said.")
    if len(text) > MAX_TEXT_CHARS:
        raise ParamError("text", f"Field 'text': {len(text)} characters is over the limit of {MAX_TEXT_CHARS}; "
                                 "split the recording and its text.")
    lang = _check_language(language)
    label = file.filename or "upload"
    async with services.admitted():
        async with saved_upload(services, file) as (path, _label):
            audio = await services.run(_load, services, path, label)  # in a decoder process, as transcriptions
        if audio.n_samples == 0:
            from ...errors import AudioDecodeError

            raise AudioDecodeError(f"{label}: the file holds no audio samples.")
        stopped = threading.Event()

        def check(_fraction: float = 0.0) -> None:
            # A request past its deadline (504 sent) or whose client left stops at its next model call
            # instead of holding the recogniser for every other request until a long recording is done.
            if stopped.is_set():
                raise RequestTimeout("stopped: the request ran past its time limit or its client left")

        aligner = stoppable(await services.run(_aligner, services), check)
        watcher = asyncio.ensure_future(_watch_client(request, stopped))
        try:
            result = await services.with_timeout(services.run(
                lambda: aligner.align(audio, text, language=lang, label=label, on_progress=check)))
        finally:
            stopped.set()
            watcher.cancel()
    services.metrics.audio("/v1/align", audio.duration_s)
    if response_format == "json":
        return JSONResponse(result.to_dict())
    return PlainTextResponse(render(result, response_format), media_type=MEDIA_TYPES[response_format])
