"""Spoken-content search: ``GET/POST /v1/search``, ``POST /v1/index`` (uploads, or server paths when
``--index-paths`` allows), and ``GET /v1/search/clip`` (a hit's audio, for the page's player).

The index is the folder given by ``--search-index``; uploads are kept in its ``media/`` folder (the
index refers to them). Field names are those of ``tingshuo search --format json``.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import threading
import uuid
from pathlib import Path
from typing import Optional

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from ...errors import InputError, TingshuoError
from ..errors import ParamError
from ..uploads import safe_name, saved_upload

router = APIRouter()
MAX_FILES = 32
MAX_CLIP_S = 120.0
_lock = threading.Lock()


class NotConfigured(TingshuoError):
    http_status = 404


class SearchRequest(BaseModel):
    query: str
    top: int = 5
    lang: Optional[str] = None


class IndexRequest(BaseModel):
    paths: list[str]


def _index(request: Request):
    """The server's Index, opened once (lazily); 404 when the server has none."""
    services = request.app.state.services
    folder = services.config.search_index
    if not folder:
        raise NotConfigured("This server has no search index; start it with --search-index LIB "
                            "(and add audio with POST /v1/index or 'tingshuo index PATH --index LIB').")
    state = request.app.state
    with _lock:
        if getattr(state, "search_index", None) is None:
            from ...search.index import Index

            state.search_index = Index(folder, model=services.config.model, cpu_threads=services.config.cpu_threads)
            state.index_lock = asyncio.Lock()
    return state.search_index


def _options(top, lang):
    from ...options import from_mapping
    from ...search.query import SearchOptions

    values = {"top": top}
    if lang not in (None, "", "any", "auto"):
        values["lang"] = lang
    try:
        return from_mapping(SearchOptions, values)
    except InputError as exc:
        raise ParamError("top" if "top" in str(exc) else "lang", str(exc)) from None


async def _search(request: Request, query: str, top: int, lang: Optional[str]) -> dict:
    services = request.app.state.services
    options = _options(top, lang)
    index = _index(request)
    if not query or not query.strip():
        raise ParamError("query", "Field 'query': give the words to look for.")
    async with services.admitted():
        result = await services.with_timeout(services.run(lambda: index.search(query, options=options)))
    return result.to_dict()


@router.get("/v1/search")
async def search_get(request: Request, query: str = Query(""), top: int = Query(5), lang: Optional[str] = Query(None)):
    """Hits for a typed query: file, start_s/end_s (the matched words in their sentence) and match_start_s/
    match_end_s (the matched words), marked snippet, score, matchers."""
    return await _search(request, query, top, lang)


@router.post("/v1/search")
async def search_post(request: Request, body: SearchRequest):
    return await _search(request, body.query, body.top, body.lang)


@router.post("/v1/index")
async def index_add(request: Request):
    """Add uploaded files (multipart ``files``) or, with ``--index-paths``, server paths (JSON ``{"paths": [...]}``)."""
    services = request.app.state.services
    index = _index(request)
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("application/json"):
        try:
            body = IndexRequest.model_validate(await request.json())
        except Exception as exc:  # pydantic's message, as one line
            raise ParamError("paths", f"Field 'paths': give a list of paths ({str(exc).splitlines()[0]}).") from None
        if not services.config.index_paths:
            raise ParamError("paths", "This server does not index paths on its own disk; upload the files, "
                                      "or start it with --index-paths.")
        if not body.paths:
            raise ParamError("paths", "Field 'paths': give at least one file or folder.")
        return await _run_add(request, index, body.paths)
    form = await request.form()
    files = [f for f in form.getlist("files") if hasattr(f, "filename")]
    if not files:
        raise ParamError("files", "Field 'files': upload at least one audio file (multipart field 'files').")
    if len(files) > MAX_FILES:
        raise ParamError("files", f"Field 'files': at most {MAX_FILES} files per request, not {len(files)}.")
    media = Path(index.folder) / "media"
    media.mkdir(parents=True, exist_ok=True)
    kept: list[Path] = []
    labels: dict[str, str] = {}
    async with services.admitted():
        async with contextlib.AsyncExitStack() as stack:
            for upload in files:
                path, label = await stack.enter_async_context(saved_upload(services, upload))
                # Decoded once in a worker process first, as /v1/inspect does: a file that crashes the
                # decoder fails this request (422), not the server; indexing reports ordinary decode errors.
                await services.run(lambda p=path, lb=label: services.decoder.check(p, label=lb))
                target = media / f"{uuid.uuid4().hex[:12]}-{safe_name(label)}"
                await services.run(shutil.copyfile, path, target)
                kept.append(target)
                labels[str(target.absolute())] = label
    try:
        # An upload of bytes the index already holds (the same file sent again) would be a second copy of
        # every hit: it is not kept, and the answer names the file it is.
        same = await services.run(_already_indexed, index, kept)
        out = await _run_add(request, index, [str(p) for p in kept if str(p.absolute()) not in same], admitted=False)
    finally:
        for p in kept:  # a file that failed to index (or was there already) is not kept
            if not index.store.file_by_path(str(p.absolute())):
                with contextlib.suppress(OSError):
                    p.unlink()
    out["skipped"] += len(same)
    out["same_as"] = [{"upload": labels[p], "same_as": other} for p, other in same.items()]
    for f in out["failed"]:  # named as uploaded, not by the server's own path
        if f["audio"] in labels:
            f["error"] = f["error"].replace(f["audio"], labels[f["audio"]])
            f["audio"] = labels[f["audio"]]
    return out


def _already_indexed(index, paths: list[Path]) -> dict[str, str]:
    """{upload path: the indexed file with the same bytes} for uploads the index already holds."""
    from ...search.document import content_hash, file_state

    out: dict[str, str] = {}
    first: dict[str, str] = {}  # the same bytes twice in one request: the first is indexed
    for p in paths:
        with contextlib.suppress(OSError):
            chash = content_hash(file_state(p))
            twin = next((f.path for f in index.store.file_by_hash(chash)
                         if Path(f.path).exists() and f.path != str(p.absolute())), None) or first.get(chash)
            if twin:
                out[str(p.absolute())] = twin
            else:
                first[chash] = str(p.absolute())
    return out


async def _run_add(request: Request, index, paths: list[str], admitted: bool = True) -> dict:
    services = request.app.state.services
    lock = request.app.state.index_lock
    ctx = services.admitted() if admitted else contextlib.nullcontext()
    async with ctx:
        async with lock:
            report = await services.run(lambda: index.add(paths, prune=False))
    return {**report.to_dict(), "index": index.info()}


@router.get("/v1/search/clip")
async def search_clip(request: Request, audio: str = Query(...), start_s: float = Query(...), end_s: float = Query(...)):
    """A WAV of ``start_s``..``end_s`` of an indexed file (what the page plays for a hit)."""
    services = request.app.state.services
    index = _index(request)
    if not index.store.file_by_path(audio):
        raise ParamError("audio", "Field 'audio': that file is not in the index.")
    if not (0 <= start_s < end_s) or end_s - start_s > MAX_CLIP_S:
        raise ParamError("end_s", f"Give 0 <= start_s < end_s, at most {MAX_CLIP_S:g} s apart.")

    def cut() -> bytes:
        from ...audio.io import encode_audio
        from ...search.clips import check_unchanged, read_span

        check_unchanged(audio, index)  # moved or changed since indexed: the hit's seconds are not in it
        return encode_audio(read_span(audio, start_s, end_s), "wav")

    async with services.admitted():
        data = await services.run(cut)
    return Response(content=data, media_type="audio/wav")
