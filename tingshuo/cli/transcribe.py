"""``tingshuo transcribe``: files, folders and manifests to txt/srt/vtt/json/tsv."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError, TingshuoError

EXAMPLES = """\
examples:
  tingshuo transcribe interview.mp3                       # interview.txt/.srt/.json in .
  tingshuo transcribe talk.mp4 --format srt,vtt -o subs/  # subtitles for a video
  tingshuo transcribe clips/ --language zh -o out/ --skip-existing
  tingshuo transcribe train.jsonl --format json --manifest-out asr.jsonl
  tingshuo transcribe call.wav --word-timestamps --format json -o -   # JSON to stdout

Inputs may be audio or video files (WAV, FLAC, MP3, OGG/Opus, M4A/AAC, AIFF, MP4, MKV, WebM, ...),
folders (searched recursively), JSONL manifests (ours or NeMo), Kaldi data dirs or LJSpeech
metadata.csv. Outputs mirror the input folder's layout; a file that fails is reported and skipped."""


@dataclass(frozen=True)
class Item:
    audio: str
    out_stem: Path  # output path without suffix, relative to --output-dir
    language: str | None
    duration_s: float | None


def add_parser(sub) -> None:
    from ..asr.base import TranscribeOptions
    from ..options import add_arguments
    from . import HelpFormatter

    p = sub.add_parser("transcribe", help="speech to text with timestamps and subtitles",
                       description="Transcribe speech (English, Mandarin and 90+ other languages) with segment and "
                                   "word timestamps.\nRuns offline on Whisper (default: whisper-base, int8 on CPU).",
                       epilog=EXAMPLES, formatter_class=HelpFormatter)
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="audio/video files, folders or manifests")
    p.add_argument("--model", "-m", default=None,
                   help="catalog name (see 'tingshuo models') or a model folder (default: whisper-base)")
    p.add_argument("--format", "-f", default="txt,srt,json", metavar="FMTS",
                   help="comma-separated output formats: txt,srt,vtt,json,tsv or all (default: txt,srt,json)")
    p.add_argument("--output-dir", "-o", default=".", metavar="DIR",
                   help="where outputs go; '-' prints them to stdout (default: .)")
    p.add_argument("--skip-existing", action="store_true",
                   help="skip inputs whose outputs already exist (resume an interrupted run)")
    p.add_argument("--manifest-out", metavar="JSONL",
                   help="also append one JSON line per transcribed input (audio, text, lang, duration_s)")
    p.add_argument("--threads", type=int, default=0, help="CPU threads for the recogniser (default: all cores)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar or per-file lines")
    add_arguments(p, TranscribeOptions)
    p.set_defaults(run=run)


def expand_inputs(inputs: list[str], errors: list[tuple[str, TingshuoError]]) -> list[Item]:
    """Turn the command-line inputs into a list of audio items with their output stems."""
    from ..asr.text import normalize_language
    from ..data.manifest import open_dataset

    items: list[Item] = []
    for raw in inputs:
        p = Path(raw)
        try:
            manifest = p.suffix.lower() in MANIFEST_SUFFIXES or p.name in ("wav.scp", "metadata.csv")
            if not p.is_dir() and not (manifest and p.is_file()):
                if not (p.exists() or p.is_symlink()):
                    raise InputError(f"{raw}: file or folder not found.")
                # An audio file, or something that is not one (a pipe, a broken link): the decoder says which.
                items.append(Item(str(p), Path(p.stem), None, None))
                continue
            ds = open_dataset(p)
            root = Path(os.path.abspath(ds.root))  # not resolve(): a symlinked clip is named by its link

            def bad_line(exc, _raw=raw):
                errors.append((_raw, exc))

            for rec in ds.records(on_error=bad_line):
                try:
                    rel = Path(os.path.abspath(rec.audio)).relative_to(root)
                except ValueError:
                    rel = Path(Path(rec.audio).name)
                items.append(Item(rec.audio, rel.with_suffix(""), normalize_language(rec.lang), rec.duration_s))
        except TingshuoError as exc:
            errors.append((raw, exc))
    # Two inputs must never write the same output file.
    seen: dict[Path, int] = {}
    unique = []
    for it in items:
        stem = _short_stem(it.out_stem)
        if stem in seen:
            seen[stem] += 1
            stem = stem.with_name(f"{stem.name}-{seen[_short_stem(it.out_stem)]}")
        seen.setdefault(stem, 1)
        unique.append(Item(it.audio, stem, it.language, it.duration_s))
    return unique


MANIFEST_SUFFIXES = (".jsonl", ".json", ".csv", ".ndjson")
MAX_STEM_BYTES = 240  # outputs add a suffix (-2.json: 7 bytes); the file system allows 255


def _short_stem(stem: Path) -> Path:
    """The stem, or for a name too long to take a suffix, its first bytes plus a hash of the rest."""
    raw = os.fsencode(stem.name)
    if len(raw) <= MAX_STEM_BYTES:
        return stem
    import hashlib

    head = os.fsdecode(raw[:MAX_STEM_BYTES - 9])
    return stem.with_name(f"{head}-{hashlib.sha1(raw).hexdigest()[:8]}")


def sweep_stale_temp_files(out_dir: Path, items: list[Item], formats) -> int:
    """Remove the temp files a killed run left next to the outputs it was writing (``.NAME.FMT.xxxxxxxx.tmp``,
    see ``util.atomic_write_bytes``); returns how many. Only names of this run's outputs are touched."""
    import re

    wanted = {(out_dir / f"{it.out_stem}.{fmt}") for it in items for fmt in formats}
    by_dir: dict[Path, set[str]] = {}
    for target in wanted:
        by_dir.setdefault(target.parent, set()).add(target.name[:64])
    removed = 0
    pattern = re.compile(r"^\.(.+)\.[a-z0-9_]{8}\.tmp$")
    for folder, prefixes in by_dir.items():
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            m = pattern.match(name)
            if m and m.group(1) in prefixes:
                try:
                    os.unlink(folder / name)
                    removed += 1
                except OSError:
                    pass
    return removed


def _duration(item: Item) -> float:
    if item.duration_s:
        return item.duration_s
    # FFmpeg's header read (quiet); libsndfile would hand MP3s to libmpg123, which prints to stderr.
    from ..audio.io import probe

    try:
        return probe(item.audio).duration_s or 0.0
    except TingshuoError:
        return 0.0


def run(args) -> int:
    from ..asr.base import TranscribeOptions
    from ..asr.formats import parse_formats, render
    from ..asr.pipeline import Transcriber
    from ..data.manifest import JsonlAppender
    from ..options import from_namespace
    from ..util import atomic_write_text, same_file

    from . import check_int, prepare_output_dir

    options = from_namespace(TranscribeOptions, args)
    formats = parse_formats(args.format)
    threads = check_int(args.threads, "--threads", 0, 1024, "0 uses all cores")
    to_stdout = args.output_dir == "-"
    out_dir = Path(args.output_dir)
    if not to_stdout:
        prepare_output_dir(out_dir)
    errors: list[tuple[str, TingshuoError]] = []
    items = expand_inputs(args.inputs, errors)
    for src, exc in errors:
        print(f"error: {exc}", file=sys.stderr)
    appender = None
    if args.manifest_out:
        try:
            appender = JsonlAppender(args.manifest_out)
        except OSError as exc:
            raise InputError(f"Cannot write --manifest-out {args.manifest_out} ({exc.strerror}); "
                             "choose another path.") from None
    skipped = 0
    if args.skip_existing:
        done = appender.done_keys() if appender else set()
        keep = []
        for it in items:
            outputs_exist = not to_stdout and all((out_dir / f"{it.out_stem}.{f}").exists() for f in formats)
            if outputs_exist and (appender is None or it.audio in done):
                skipped += 1
            else:
                keep.append(it)
        items = keep
    inputs = {os.path.abspath(it.audio) for it in items}
    if not to_stdout:
        sweep_stale_temp_files(out_dir, items, formats)
    if not items:
        if skipped:
            print(f"nothing to do: all {skipped} inputs already have outputs.", file=sys.stderr)
            return 1 if errors else 0
        raise InputError("No audio to transcribe: the inputs hold no audio files.") if not errors else InputError(
            "None of the inputs could be read.")

    show = not args.quiet and sys.stderr.isatty()
    total_s = sum(_duration(it) for it in items) if len(items) <= 20000 else None
    transcriber = Transcriber(args.model, options, cpu_threads=threads)
    bar = None
    if not args.quiet:
        from tqdm import tqdm

        bar = tqdm(total=round(total_s, 1) if total_s else None, unit="s", unit_scale=False, disable=not show,
                   desc="transcribing", dynamic_ncols=True,
                   bar_format="{desc} {percentage:3.0f}%|{bar}| {n:.0f}/{total_fmt} s audio "
                              "[{elapsed}<{remaining}, {rate_fmt}]")
    started = time.perf_counter()
    n_ok, audio_s = 0, 0.0
    failed = len(errors)
    try:
        for i, result in transcriber.transcribe_many([it.audio for it in items], options,
                                                     languages=[it.language for it in items]):
            item = items[i]
            if isinstance(result, Exception):
                failed += 1
                msg = f"error: {result}"
                (bar.write(msg, file=sys.stderr) if bar and show else print(msg, file=sys.stderr))
                continue
            try:
                for fmt in formats:
                    text = render(result, fmt)
                    if to_stdout:
                        sys.stdout.write(text)
                        sys.stdout.flush()
                        continue
                    target = out_dir / f"{item.out_stem}.{fmt}"
                    if os.path.abspath(target) in inputs or (target.exists() and same_file(target, item.audio)):
                        raise InputError(f"Refusing to overwrite input {target}; choose another --output-dir.")
                    atomic_write_text(target, text)
            except OSError as exc:  # this output cannot be written (disk full, a name the file system refuses)
                failed += 1
                msg = f"error: cannot write the output for {item.audio}: {exc.strerror or exc} ({exc.filename})"
                (bar.write(msg, file=sys.stderr) if bar and show else print(msg, file=sys.stderr))
                continue
            if appender:
                appender.write({"audio": item.audio, "text": result.text, "lang": result.language,
                                "duration_s": round(result.duration_s, 3)})
            n_ok += 1
            audio_s += result.duration_s
            if bar is not None:
                bar.update(round(result.duration_s, 1))
                if show:
                    line = result.text.replace("\n", " ")
                    bar.write(f"{item.audio} [{result.language}] {line[:100]}", file=sys.stderr)
    finally:
        if bar is not None:
            bar.close()
        if appender:
            appender.close()
    wall = time.perf_counter() - started
    if not args.quiet:
        speed = f", {audio_s / wall:.1f}x real time" if wall > 0 and audio_s else ""
        where = "" if to_stdout else f"; outputs in {out_dir}"
        extra = "".join([f", {failed} failed" if failed else "", f", {skipped} skipped" if skipped else ""])
        print(f"transcribed {n_ok} file{'s' if n_ok != 1 else ''} ({audio_s:.1f} s of audio) in {wall:.1f} s"
              f"{speed}{extra}{where}", file=sys.stderr)
    return 1 if failed else 0
