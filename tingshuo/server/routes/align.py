"""``POST /v1/align``: an upload and its text -> word (character) times, as JSON or TextGrid/CTM/SRT/VTT.

Same limits as the transcription endpoints (upload size, audio length, request deadline, queue,
API key). The aligner shares the server's recogniser (one model in memory, one model call at a
time).
"""

from __future__ import annotations

import threading
from typing import Literal, Optional

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse

from ..errors import ParamError
from ..uploads import saved_upload

router = APIRouter()
MAX_TEXT_CHARS = 200_000  # about three hours of read speech
AlignFormat = Literal["json", "textgrid", "ctm", "srt", "vtt"]
MEDIA_TYPES = {"textgrid": "text/plain", "ctm": "text/plain", "srt": "application/x-subrip", "vtt": "text/vtt"}
_lock = threading.Lock()


def _aligner(services):
    """One ``Aligner`` per server, built on first use (it shares the recogniser's loaded model)."""
    with _lock:
        aligner = getattr(services, "_aligner", None)
        if aligner is None:
            from ...align.aligner import Aligner
            from ...align.base import AlignOptions

            aligner = Aligner(AlignOptions(model=services.config.model, cpu_threads=services.config.cpu_threads))
            services._aligner = aligner
        return aligner


@router.post("/v1/align")
async def align(request: Request, file: UploadFile = File(...), text: str = Form(...),
                language: Optional[str] = Form(None), response_format: AlignFormat = Form("json")):
    """Forced alignment of ``text`` to the speech in ``file``: ``{"audio", "language", "words": [{"text",
    "start_s", "end_s", "score"}], "unaligned": [{"text", "start_s", "end_s", "kind"}], "duration_s"}``."""
    from ...align.formats import render
    from .audio import _check_language, _load

    services = request.app.state.services
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
        aligner = await services.run(_aligner, services)
        result = await services.with_timeout(services.run(
            lambda: aligner.align(audio, text, language=lang, label=label)))
    services.metrics.audio("/v1/align", audio.duration_s)
    if response_format == "json":
        return JSONResponse(result.to_dict())
    return PlainTextResponse(render(result, response_format), media_type=MEDIA_TYPES[response_format])
