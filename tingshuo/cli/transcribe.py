"""``tingshuo transcribe``: files, folders and manifests to txt/srt/vtt/json/tsv."""

from __future__ import annotations

import sys
import time

from ..asr.batch import Item, expand_inputs, sweep_stale_temp_files  # noqa: F401  (imported from here by search)
from ..errors import InputError, TingshuoError

EXAMPLES = """\
examples:
  tingshuo transcribe interview.mp3                       # interview.txt/.srt/.json in .
  tingshuo transcribe talk.mp4 --format srt,vtt -o subs/  # subtitles for a video
  tingshuo transcribe clips/ --language zh -o out/ --skip-existing
  tingshuo transcribe train.jsonl --format json --manifest-out asr.jsonl
  tingshuo transcribe call.wav --word-timestamps --format json -o -   # JSON to stdout
  tingshuo transcribe corpus/ -o out/ --skip-existing --ray            # on Ray ($RAY_ADDRESS or local)
  tingshuo transcribe corpus/ -o out/ --ray-address head:6379 --ray-actors 4:64 --ray-cpus-per-actor 2

Inputs may be audio or video files (WAV, FLAC, MP3, OGG/Opus, M4A/AAC, AIFF, MP4, MKV, WebM, ...),
folders (searched recursively), JSONL manifests (ours or NeMo), Kaldi data dirs or LJSpeech
metadata.csv. Outputs mirror the input folder's layout; a file that fails is reported and skipped.
With --ray the recognition runs on a Ray cluster's actors and this process writes the same outputs;
inputs must be readable at the same path on every node (docs/scale.md)."""


def add_parser(sub) -> None:
    from ..asr.base import TranscribeOptions
    from ..options import add_arguments
    from ..scale.options import add_ray_arguments
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
    add_ray_arguments(p)
    p.set_defaults(run=run)


def run(args) -> int:
    from ..asr.base import TranscribeOptions
    from ..asr.batch import TranscriptSink
    from ..asr.formats import parse_formats
    from ..options import from_namespace
    from ..scale.options import ray_options
    from . import check_int, prepare_output_dir
    from .progress import BatchProgress

    options = from_namespace(TranscribeOptions, args)
    ray = ray_options(args)
    formats = parse_formats(args.format)
    threads = check_int(args.threads, "--threads", 0, 1024, "0 uses all cores")
    if args.output_dir != "-":
        prepare_output_dir(args.output_dir)
    errors: list[tuple[str, TingshuoError]] = []
    references: set[str] = set()  # clip.txt files a folder's clips took their reference text from
    items = expand_inputs(args.inputs, errors, references)
    for src, exc in errors:
        print(f"error: {exc}", file=sys.stderr)
    sink = TranscriptSink(args.output_dir, formats, manifest_out=args.manifest_out,
                          inputs=[*args.inputs, *(it.audio for it in items)])
    items, skipped = sink.pending(items, args.skip_existing, protect=[*args.inputs, *references])  # before anything is shipped
    if not items:
        sink.close()
        if skipped:
            print(f"nothing to do: all {skipped} inputs already have outputs.", file=sys.stderr)
            return 1 if errors else 0
        raise InputError("No audio to transcribe: the inputs hold no audio files.") if not errors else InputError(
            "None of the inputs could be read.")

    paths = [it.audio for it in items]
    languages = [it.language for it in items]
    stats = None
    if ray.active:
        from ..scale.executor import RunStats
        from ..scale.transcribe import transcribe_many

        stats = RunStats()
        results = transcribe_many(paths, args.model, options, ray=ray, languages=languages, stats=stats)
    else:
        from ..asr.pipeline import Transcriber

        transcriber = Transcriber(args.model, options, cpu_threads=threads)
        results = transcriber.transcribe_many(paths, options, languages=languages)
    progress = BatchProgress(len(items), desc="transcribing", quiet=args.quiet)
    started = time.perf_counter()
    n_ok, audio_s = 0, 0.0
    failed = len(errors)
    try:
        for i, result in results:
            item = items[i]
            if isinstance(result, Exception):
                if sink.fail(i, item):
                    failed += 1
                    progress.done(failed=True)
                    progress.note(f"error: {result}", always=True)
                continue
            try:
                if not sink.write(i, item, result):
                    continue
            except OSError as exc:  # this output cannot be written (disk full, a name the file system refuses)
                if sink.fail(i, item):
                    failed += 1
                    progress.done(failed=True)
                    progress.note(f"error: cannot write the output for {item.audio}: {exc.strerror or exc} "
                                  f"({exc.filename})", always=True)
                continue
            n_ok += 1
            audio_s += result.duration_s
            progress.done(result.duration_s)
            line = result.text.replace("\n", " ")
            progress.note(f"{item.audio} [{result.language}] {line[:100]}")
    finally:
        progress.close()
        sink.close()
        close = getattr(results, "close", None)
        if close is not None:
            close()  # stops the decoder thread, or disconnects from Ray
    wall = time.perf_counter() - started
    if not args.quiet:
        speed = f", {audio_s / wall:.1f}x real time" if wall > 0 and audio_s else ""
        where = "" if sink.to_stdout else f"; outputs in {args.output_dir}"
        extra = "".join([f", {failed} failed" if failed else "", f", {skipped} skipped" if skipped else ""])
        print(f"transcribed {n_ok} file{'s' if n_ok != 1 else ''} ({audio_s:.1f} s of audio) in {wall:.1f} s"
              f"{speed}{extra}{where}", file=sys.stderr)
        if stats is not None:
            print(f"on Ray: {stats.describe()}", file=sys.stderr)
    return 1 if failed else 0
