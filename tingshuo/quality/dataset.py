"""Inspect datasets on disk and write results.jsonl, keep/review/drop manifests and report.html.

    >>> summary = inspect_dataset(["train.jsonl"], "out/inspect")             # doctest: +SKIP

Manifests come back in the input's own format (JSONL/NeMo -> .jsonl with absolute audio paths,
Kaldi -> folders with wav.scp and text, LJSpeech -> metadata-style .csv). Inputs are only read.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Iterator

from ..errors import InputError, TingshuoError
from .base import InspectOptions
from .runner import Item, inspect_items


def _datasets(inputs: list[str], errors: list):
    """The datasets among ``inputs``; an input that is none (missing, not a manifest) goes to ``errors``."""
    from ..data.manifest import Dataset, is_audio_file, open_dataset

    out = []
    for raw in inputs:
        p = Path(raw)
        if not str(raw):  # Path("") is the current folder: an empty argument would inspect all of it
            errors.append(InputError("An empty path was given; name a file, folder or manifest."))
            continue
        if is_audio_file(p) and (p.is_file() or not p.exists()):  # a missing audio file is a clip that fails
            out.append(Dataset(p, "files", p.parent))
            continue
        try:
            out.append(open_dataset(p))
        except TingshuoError as exc:
            errors.append(exc)
    return out


def _iter_items(datasets, errors: list | None = None) -> Iterator[Item]:
    from ..data.manifest import Record

    pos = 0
    for ds in datasets:
        if ds.format == "files":
            recs = [Record(audio=str(ds.path), id=ds.path.stem)]
        else:
            recs = ds.records(on_error=(errors.append if errors is not None else (lambda e: None)))
        for rec in recs:
            yield Item(pos, rec.audio, rec.text, rec.lang, rec.id, rec)
            pos += 1


def _manifest_format(datasets) -> str:
    fmts = {"files": "jsonl", "dir": "jsonl"}
    kinds = {fmts.get(d.format, d.format) for d in datasets}
    return kinds.pop() if len(kinds) == 1 else "jsonl"


def _for_output(rec, fmt: str):
    """The record with its audio path made absolute, so the manifest works from the output folder."""
    if fmt in ("jsonl", "nemo") and rec.raw:
        raw = dict(rec.raw)
        field = "audio_filepath" if "audio_filepath" in raw else "audio"
        raw[field] = os.path.abspath(rec.audio)
        return replace(rec, raw=raw)
    if fmt == "kaldi" and rec.raw:
        return replace(rec, raw={**rec.raw, "path": os.path.abspath(rec.audio)})
    return rec


def _write_results(out: Path, datasets, run, results, errors: list, report: bool):
    from ..data.manifest import JsonlAppender, ManifestWriter
    from ..util import atomic_write_text, json_text
    from .report import Summary, write_report

    fmt = _manifest_format(datasets)
    suffix = {"kaldi": "", "ljspeech": ".csv"}.get(fmt, ".jsonl")
    writers = {g: ManifestWriter(out / f"{name}{suffix}", fmt)
               for g, name in (("high", "keep"), ("medium", "review"), ("low", "drop"))}
    summary = Summary(run.profile)
    partial = out / "results.jsonl.partial"
    if partial.exists():  # left by a killed run
        partial.unlink()
    try:
        with JsonlAppender(partial) as res_out:
            for item, r in results:
                res_out.write(r.to_dict())
                summary.add(r)
                if item.record is not None:
                    writers[r.grade].write(_for_output(item.record, fmt))
        os.replace(partial, out / "results.jsonl")
    finally:
        if partial.exists():  # interrupted while grading: the store keeps the work, not a half file
            partial.unlink()
    for w in writers.values():
        w.close()
    summary.groups = run.stats.groups
    run.stats.input_errors = [str(e) for e in errors]
    stats = run.stats.to_dict()
    stats["manifest_errors"] = [str(e) for e in errors[:20]]
    if report:
        write_report(out / "report.html", summary, stats)
    atomic_write_text(out / "summary.json", json_text({"grades": dict(summary.grades), "reasons": dict(summary.reasons),
                                                       "duplicate_groups": len(summary.groups), **stats}, indent=1))
    return summary


OUTPUT_FILES = ("results.jsonl", "summary.json", "report.html", "store.sqlite")


def _check_outputs_spare_inputs(out: Path, datasets) -> None:
    """An ``InputError`` when an input is (or lies inside) a file or folder this run writes: re-inspecting
    OUTDIR/review (a Kaldi folder) into the same OUTDIR rewrote the input's wav.scp and text with the new
    grades' subset."""
    suffix = {"kaldi": "", "ljspeech": ".csv"}.get(_manifest_format(datasets), ".jsonl")
    outputs = [out / f"{name}{suffix}" for name in ("keep", "review", "drop")] + [out / n for n in OUTPUT_FILES]
    for ds in datasets:
        src = Path(ds.path).resolve()
        for target in outputs:
            target = target.resolve()
            if src == target or target in src.parents:
                raise InputError(f"{ds.path} is where this run writes its {target.name} output; choose another -o "
                                 "so inputs stay untouched.")
    for target in outputs:  # found at the end it was 'unexpected IsADirectoryError', the work done lost
        if target.is_dir() and (target.suffix or target.name in OUTPUT_FILES):
            raise InputError(f"{target} is a folder, where this run writes a file; move it or choose another -o.")


def inspect_dataset(inputs: list[str], out_dir: str | os.PathLike, options: InspectOptions | None = None, *,
                    progress: bool = False, on_clip=None, report: bool = True, executor=None,
                    transcribe_many=None):
    """Inspect every clip of ``inputs`` into ``out_dir``; returns (Summary, Stats).

    ``report=False`` skips report.html (the plots take a few seconds). Unreadable clips are
    results (graded low); ``stats.n_unreadable`` counts them and ``stats.input_errors`` lists
    inputs that held no clip at all (a missing path, a bad manifest line). ``executor`` and
    ``transcribe_many`` run the per-clip stages elsewhere (``tingshuo.scale.inspect.ray_stages``:
    on Ray actors); the store, duplicates, grades and outputs stay in this process.
    """
    options = options or InspectOptions()
    out = Path(out_dir)
    errors: list[TingshuoError] = []  # inputs, manifest lines and folder entries that are not clips
    datasets = _datasets(inputs, errors)
    for ds in datasets:
        if ds.format != "files" and out.resolve() == Path(ds.root).resolve():
            raise InputError(f"Output folder {out} is the input's folder; choose another -o so inputs stay untouched.")
    _check_outputs_spare_inputs(out, datasets)
    total = sum(1 for _ in _iter_items(datasets, errors))
    if total == 0:
        raise InputError(f"No audio to inspect in {', '.join(inputs)}" +
                         (f" ({str(errors[0]).rstrip('.')})." if errors else "; give audio files, folders or manifests."))
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"Cannot create the output folder {out} ({exc.strerror or exc}); "
                         "choose a writable folder with -o.") from None
    store = options.store or str(out / "store.sqlite")
    run, results = inspect_items(lambda: _iter_items(datasets), options, total=total, store_path=store,
                                 progress=progress, on_clip=on_clip, executor=executor,
                                 transcribe_many=transcribe_many)
    try:
        summary = _write_results(out, datasets, run, results, errors, report)
    finally:
        run.store.close()
    return summary, run.stats
