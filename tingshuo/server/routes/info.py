"""What the server offers and how it is doing: models, voices, health, Prometheus metrics."""

from __future__ import annotations

import os
import time

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

router = APIRouter()
STARTED = time.time()


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


@router.get("/v1/models")
async def list_models(request: Request):
    """OpenAI-style model list: the recogniser (and its alias whisper-1) and the speech models."""
    services = request.app.state.services
    asr = services.transcriber().model_name if services._transcriber is not None else (services.config.model or "default")
    ids = [asr, "whisper-1", "tts-1", "tts-1-hd"]
    return {"object": "list", "data": [{"id": i, "object": "model", "created": int(STARTED), "owned_by": "tingshuo"}
                                       for i in dict.fromkeys(ids)]}


@router.get("/v1/voices")
async def list_voices():
    """The TTS voices (installed ones can speak); pass a name as ``voice`` to /v1/audio/speech."""
    from ...tts import voices

    return {"object": "list", "data": [{**v.to_dict(), "id": v.name} for v in voices()]}


@router.get("/healthz")
async def healthz(request: Request):
    services = request.app.state.services
    return {"status": "ok", "models_loaded": services._transcriber is not None, "queue_depth": services._admitted,
            "uptime_s": round(time.time() - STARTED, 1), "rss_mb": round(_rss_mb(), 1)}


@router.get("/metrics")
async def metrics(request: Request):
    services = request.app.state.services
    text = services.metrics.render()
    text += ("# HELP tingshuo_process_resident_memory_bytes Resident memory of the server process.\n"
             "# TYPE tingshuo_process_resident_memory_bytes gauge\n"
             f"tingshuo_process_resident_memory_bytes {int(_rss_mb() * 2**20)}\n")
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4; charset=utf-8")
