"""``transcribe`` on Ray: the per-item worker each actor runs, and the Python API.

    >>> import ray, tingshuo.scale as ts
    >>> ds = ray.data.from_items(["/data/a.wav", "/data/b.flac"])                 # doctest: +SKIP
    >>> ts.transcribe_dataset(ds, model="whisper-base").write_parquet("/data/asr")  # doctest: +SKIP
    >>> for i, t in ts.transcribe_many(paths, ray=ts.RayOptions(enabled=True)):   # doctest: +SKIP
    ...     print(i, t.text)

Each actor loads the recogniser once, with as many threads as it has CPUs, and runs the same
``Transcriber.transcribe_many`` as a local run over each batch of paths; only paths go out and
only transcripts come back. Paths must be readable at the same place on every node.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Iterable, Iterator, Sequence

from ..asr.base import TranscribeOptions
from ..errors import TingshuoError
from ..types import Transcript
from .cluster import connect, import_ray
from .executor import Job, RunStats, plan, run_items
from .options import RayOptions

WORKER = "tingshuo.scale.transcribe:TranscribeWorker"
MEMORY_GB = {"whisper-tiny.en": 0.8}  # measured peak per actor (bench/scale.py); others default below
DEFAULT_MEMORY_GB = 1.5  # whisper-base int8 with its batch of chunks peaks near 1.1 GB


class TranscribeWorker:
    """Built once per actor: the recogniser, with ``threads`` CPU threads."""

    def __init__(self, model: str | None, options: TranscribeOptions, threads: int) -> None:
        from ..asr.pipeline import Transcriber

        self.options = options
        self.transcriber = Transcriber(model, options, cpu_threads=threads)

    def __call__(self, rows: Sequence[dict]) -> list[Transcript | TingshuoError]:
        paths = [r["path"] for r in rows]
        langs = [r.get("language") or None for r in rows]
        out: list[Any] = [None] * len(rows)
        for i, result in self.transcriber.transcribe_many(paths, self.options, languages=langs):
            label = rows[i].get("label") or paths[i]
            if isinstance(result, Exception):
                msg = str(result).replace(paths[i], label) if label != paths[i] else str(result)
                result = type(result)(msg) if isinstance(result, TingshuoError) else result
            elif label != paths[i]:
                result = dataclasses.replace(result, source=label)  # as a local run names it
            out[i] = result
        return out


def check_model(model: str | None) -> None:
    """Fail on the driver, in one sentence, for a model name that every actor would fail on."""
    from .. import models
    from ..errors import InputError

    if model and (os.sep in model or os.path.isdir(model)):
        return  # a model folder: it must exist on every node, which only the actors can tell
    spec = models.get(model) if model else models.default("asr")
    if spec.kind != "asr":
        raise InputError(f"Model '{spec.name}' is a {spec.kind} model, not a speech recogniser.")


def job(model: str | None, options: TranscribeOptions, ray: RayOptions) -> Job:
    check_model(model)
    return Job(WORKER, {"model": model, "options": options, "threads": ray.threads},
               memory_gb=MEMORY_GB.get(model or "", DEFAULT_MEMORY_GB), name="transcribe")


def rows_for(paths: Sequence[str], languages: Sequence[str | None] | None = None) -> list[dict]:
    """Rows for :func:`run_items`: the absolute path to open, the path as given (the transcript's
    ``source``), the language. Relative paths are resolved here, on the driver."""
    return [{"index": i, "path": os.path.abspath(p), "label": str(p),
             "language": (languages[i] if languages is not None else None) or ""} for i, p in enumerate(map(str, paths))]


def transcribe_many(paths: Iterable[str | os.PathLike], model: str | None = None,
                    options: TranscribeOptions | None = None, *, ray: RayOptions | None = None,
                    languages: Sequence[str | None] | None = None, stats: RunStats | None = None,
                    ) -> Iterator[tuple[int, Transcript | TingshuoError]]:
    """Like ``Transcriber.transcribe_many``, on a Ray cluster: yield ``(index, Transcript or error)``
    for each path as results arrive. Joins ``ray.address`` / ``$RAY_ADDRESS`` or starts a local Ray
    (unless this process is connected already) and leaves it as it found it."""
    ray = ray or RayOptions(enabled=True)
    options = options or TranscribeOptions()
    rows = rows_for([str(p) for p in paths], languages)
    if not rows:
        return
    with connect(ray) as info:
        for out in run_items(rows, job(model, options, ray), ray, info, stats):
            yield out.index, (out.error if out.error is not None else out.value)


def transcribe_dataset(ds: Any, model: str | None = None, options: TranscribeOptions | None = None, *,
                       ray: RayOptions | None = None) -> Any:
    """A lazy ``ray.data.Dataset`` of transcripts for a Dataset of paths (a ``path``, ``audio`` or
    ``item`` column; an optional ``language`` column). Call it inside ``ray.init()``.

    Result columns: ``path``, ``text``, ``language``, ``duration_s``, ``json`` (the transcript as
    tingshuo writes it), ``error`` (empty when it worked). One CPU is left free by default for the
    Dataset's own read stages.
    """
    ray_mod = import_ray()
    ray = ray or RayOptions(enabled=True)
    options = options or TranscribeOptions()
    from .cluster import cluster_info

    info = cluster_info(ray_mod, None, False, 0.0)
    column = next((c for c in ("path", "audio", "item") if c in (ds.columns() or [])), None)
    if column is None:
        from ..errors import InputError

        raise InputError(f"The dataset needs a 'path', 'audio' or 'item' column of file paths; it has {ds.columns()}.")
    has_lang = "language" in (ds.columns() or [])

    def to_rows(batch: dict) -> dict:
        n = len(batch[column])
        return {"index": list(range(n)), "path": [str(p) for p in batch[column]],
                "label": [str(p) for p in batch[column]],
                "language": [str(x) if x else None for x in batch["language"]] if has_lang else [None] * n}

    prepared = ds.map_batches(to_rows, batch_format="numpy", num_cpus=0.1)
    mapped, _ = plan(prepared, job(model, options, ray), ray, info, reserve_cpus=1.0)
    return mapped.map_batches(_public_columns, batch_format="numpy", num_cpus=0.1)


def _public_columns(batch: dict) -> dict:
    import json
    import pickle

    from ..asr.formats import render

    out: dict[str, list] = {"path": [], "text": [], "language": [], "duration_s": [], "json": [], "error": []}
    for k in range(len(batch["index"])):
        if batch["error_kind"][k]:
            t, err = None, str(batch["error"][k])
        else:
            t, err = pickle.loads(batch["payload"][k]), ""
        out["path"].append(str(batch["label"][k]))
        out["text"].append(t.text if t else "")
        out["language"].append(t.language if t else None)
        out["duration_s"].append(float(t.duration_s) if t else 0.0)
        out["json"].append(render(t, "json") if t else json.dumps(None))
        out["error"].append(err)
    return out
