"""``POST /v1/inspect``: speech-data quality inspection of uploaded clips (findings and grades as JSON)."""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Optional

from fastapi import APIRouter, File, Form, Request, UploadFile

from ...errors import ModelNotInstalled
from ..errors import ParamError
from ..uploads import saved_upload

router = APIRouter()
MAX_FILES = 32


def _quality():
    try:
        import tingshuo.quality as quality
    except ImportError as exc:
        raise ModelNotInstalled(f"Inspection is not available in this installation ({exc}); install a tingshuo "
                                "release with tingshuo.quality: pip install -U 'tingshuo[models,server]'.") from None
    return quality


def _options(quality, profile: str | None, extra: dict):
    cls = quality.InspectOptions
    names = {f.name for f in dataclasses.fields(cls)}
    values = {k: v for k, v in extra.items() if v is not None and k in names}
    if profile:
        if "profile" not in names:
            raise ParamError("profile", "Field 'profile': this inspector has no profiles.")
        values["profile"] = profile
    if "jobs" in names:
        values.setdefault("jobs", 1)  # the server's worker pool is the parallelism; no process pool per request
    from ...errors import InputError
    from ...options import from_mapping

    try:
        return from_mapping(cls, values)
    except InputError as exc:
        raise ParamError(next(iter(values), "options"), str(exc)) from None


@router.post("/v1/inspect")
async def inspect(request: Request, files: list[UploadFile] = File(...),
                  texts: Optional[list[str]] = Form(None), languages: Optional[list[str]] = Form(None),
                  profile: Optional[str] = Form(None), asr: Optional[bool] = Form(None),
                  dnsmos: Optional[bool] = Form(None)):
    """Grades (high/medium/low), findings and metrics for each file; ``texts[i]`` is file i's transcript."""
    services = request.app.state.services
    quality = _quality()
    if len(files) > MAX_FILES:
        raise ParamError("files", f"Field 'files': at most {MAX_FILES} files per request, not {len(files)}.")
    texts = texts or []
    languages = languages or []
    if len(texts) > len(files) or len(languages) > len(files):
        raise ParamError("texts" if len(texts) > len(files) else "languages",
                         "Give at most one transcript and one language per file, in the order of the files.")
    options = _options(quality, profile, {"asr": asr, "dnsmos": dnsmos})
    async with services.admitted():
        async with contextlib.AsyncExitStack() as stack:
            clips, paths = [], {}
            for i, upload in enumerate(files):
                path, label = await stack.enter_async_context(saved_upload(services, upload))
                # Decoded once in a worker process first: a file that crashes the decoder fails this request
                # (422), not the server; ordinary decode errors are left for the inspector to report.
                await services.run(lambda p=path, lb=label: services.decoder.check(p, label=lb))
                text = texts[i] if i < len(texts) and texts[i].strip() else None
                lang = languages[i] if i < len(languages) and languages[i].strip() else None
                clips.append(quality.Clip(audio=path, text=text, lang=lang, id=label))
                paths[path] = label

            def run():
                return [r.to_dict() if hasattr(r, "to_dict") else r for r in quality.inspect_clips(clips, options)]

            results = await services.with_timeout(services.run(run))
    results = _relabel(results, paths)  # the client's file names, not the temp paths
    grades = {}
    for r in results:
        g = r.get("grade") if isinstance(r, dict) else None
        grades[g] = grades.get(g, 0) + 1
    return {"object": "list", "data": results, "grades": grades}


def _relabel(results: list, paths: dict[str, str]) -> list:
    import json

    text = json.dumps(results, ensure_ascii=False, default=str)
    for path, label in paths.items():
        text = text.replace(json.dumps(path)[1:-1], label)
    return json.loads(text)
