"""``tingshuo align``: word/character times of a known text; clips for training with ``--segment``."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError, TingshuoError

EXAMPLES = """\
examples:
  tingshuo align chapter.mp3 chapter.txt -o out/                  # out/chapter.json
  tingshuo align talk.wav script.txt --format json -o -           # JSON to stdout
  tingshuo align talk.mp4 script.txt --format srt,vtt -o subs/    # subtitle a video from its script
  tingshuo align 讲座.m4a 讲稿.txt --format textgrid,ctm -o out/    # Mandarin: one entry per character
  tingshuo align book.flac book.txt --segment -o dataset/         # clips + manifest.jsonl + summary.json
  tingshuo align train.jsonl -o aligned/ --skip-existing          # every audio+text pair of a manifest
  tingshuo align train.jsonl -o aligned/ --segment --ray          # pairs aligned on Ray ($RAY_ADDRESS or local)

TEXT is a UTF-8 file (or UTF-16 with a BOM; '-' reads stdin), or give --text "the words".
The text may hold more or less than was said (even a whole book for one chapter): text not said
(a preface, a skipped line) and speech not in the text come back under "unaligned" instead of
stretching the words around them. Numbers, dates and symbols
are matched as they are read and reported as written. Manifests: ours or NeMo JSONL, Kaldi
dirs, LJSpeech metadata.csv, folders with clip.wav + clip.txt.
--segment cuts at pauses into clips of --min-clip-s..--max-clip-s with their exact text, keeps a
clip only when re-recognising it agrees with the text (--max-error), and writes OUT/clips/,
OUT/manifest.jsonl (read as is by 'tingshuo inspect' and 'tingshuo train') and OUT/summary.json.
With --ray each pair is aligned (and its clips checked) on a Ray cluster's actors; this process
writes the same files (docs/scale.md)."""


@dataclass(frozen=True)
class Pair:
    audio: str
    text: str | None  # the text itself (None: the record had none)
    stem: Path  # output path without suffix, relative to the output folder
    language: str | None
    duration_s: float | None


def add_parser(sub) -> None:
    from ..align.base import AlignOptions
    from ..align.segment import SegmentOptions
    from ..options import add_arguments
    from ..scale.options import add_ray_arguments
    from . import HelpFormatter

    p = sub.add_parser("align", help="word times of a known text; cut recordings into training clips",
                       description="Forced alignment: when each word (Chinese: character) of a known text was said,\n"
                                   "with a confidence per word, for recordings of any length. Offline, on Whisper "
                                   "(cross-attention DTW\nwith the text's own tokens), English and Mandarin, no "
                                   "dictionary to install.",
                       epilog=EXAMPLES, formatter_class=HelpFormatter)
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="AUDIO TEXT, or a MANIFEST / data folder of audio+text pairs")
    p.add_argument("--text", "-t", metavar="WORDS", help="the text itself, instead of a TEXT file")
    p.add_argument("--output-dir", "-o", default=".", metavar="OUT",
                   help="output folder, a file name (one input, one format), or '-' for stdout (default: .)")
    p.add_argument("--format", "-f", default="json", metavar="FMTS",
                   help="comma-separated: json,textgrid,ctm,srt,vtt or all (default: json)")
    p.add_argument("--segment", action="store_true",
                   help="also cut the recordings into verified clips with a manifest (see below)")
    p.add_argument("--skip-existing", action="store_true", help="skip inputs whose outputs exist (resume)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar or summary")
    add_arguments(p, AlignOptions)
    g = p.add_argument_group("segmenting (--segment)")
    add_arguments(g, SegmentOptions)
    add_ray_arguments(p)
    p.set_defaults(run=run)


def _read_text(path: str) -> str:
    from ..data.text import decode_text, read_text_bytes

    if path == "-":
        return decode_text(read_text_bytes(sys.stdin.buffer, "the text on stdin"), "the text on stdin")
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{path} is a folder, not a text file; give the text file (or --text \"the words\").")
    if not p.is_file():
        raise InputError(f"{path}: text file not found; give the text file (or --text \"the words\").")
    return decode_text(read_text_bytes(p, path), path)


def pairs_from_args(args, errors: list[tuple[str, TingshuoError]]) -> list[Pair]:
    """The (audio, text) pairs the command line names."""
    from ..asr.text import normalize_language
    from ..asr.batch import dataset_root, record_stem, unique_stems
    from ..data.manifest import is_audio_file, open_dataset

    inputs = args.inputs
    if len(inputs) == 2 or args.text is not None:
        if len(inputs) != (1 if args.text is not None else 2):
            raise InputError("Give AUDIO TEXT, AUDIO --text \"...\", or one MANIFEST.")
        audio = inputs[0]
        text = args.text if args.text is not None else _read_text(inputs[1])
        if not text.strip():
            where = "--text" if args.text is not None else inputs[1]
            raise InputError(f"{where}: the text is empty; give the words that were said in {inputs[0]}.")
        if not Path(audio).exists():
            raise InputError(f"{audio}: audio file not found.")
        return [Pair(audio, text, Path(Path(audio).stem), None, None)]
    if len(inputs) != 1:
        raise InputError("Give AUDIO TEXT (two inputs) or one MANIFEST; for many recordings use a manifest.")
    src = inputs[0]
    p = Path(src)
    if p.is_file() and is_audio_file(p):
        raise InputError(f"{src} is audio: give its text too (tingshuo align {src} TEXT, or --text).")
    ds = open_dataset(p)
    root = dataset_root(ds)
    records = list(ds.records(on_error=lambda exc: errors.append((src, exc))))
    stems = unique_stems([record_stem(rec.audio, root) for rec in records])
    out = [Pair(rec.audio, rec.text, stem, normalize_language(rec.lang), rec.duration_s)
           for rec, stem in zip(records, stems)]
    if not out and not errors:
        raise InputError(f"{src} lists no recordings.")
    return out


def _targets(out_arg: str, pair: Pair, formats: list[str], single: bool) -> dict[str, Path | None]:
    """Output path per format (None: stdout)."""
    from ..align.formats import SUFFIX

    if out_arg == "-":
        return {f: None for f in formats}
    out = Path(out_arg)
    by_suffix = {v.lower(): k for k, v in SUFFIX.items()}
    if single and out.suffix.lower().lstrip(".") in by_suffix and len(formats) == 1:
        return {formats[0]: out}
    return {f: out / f"{pair.stem}.{SUFFIX[f]}" for f in formats}


def run(args) -> int:
    if args.segment and args.output_dir != "-" and not Path(args.output_dir).suffix:
        # one run at a time per clips folder: two appended every clip to one manifest.jsonl twice
        from ..data.outlock import folder_lock
        from . import prepare_output_dir

        prepare_output_dir(args.output_dir, "-o")
        with folder_lock(args.output_dir, "tingshuo align --segment"):
            return _run(args)
    return _run(args)


def _run(args) -> int:
    from ..align.aligner import Aligner
    from ..align.base import AlignOptions
    from ..align.formats import parse_formats, render
    from ..align.segment import SegmentOptions, Segmenter
    from ..options import from_namespace
    from ..scale.options import ray_options
    from ..util import InputFiles, atomic_write_text

    options = from_namespace(AlignOptions, args)
    seg_options = from_namespace(SegmentOptions, args)
    ray = ray_options(args)
    formats = parse_formats(args.format)
    out_arg = args.output_dir
    # "-o out.srt" with no --format: the suffix says which
    if args.format == "json" and Path(out_arg).suffix.lower().lstrip(".") in ("textgrid", "ctm", "srt", "vtt"):
        formats = [Path(out_arg).suffix.lower().lstrip(".")]
    errors: list[tuple[str, TingshuoError]] = []
    pairs = pairs_from_args(args, errors)
    for src, exc in errors:
        print(f"error: {exc}", file=sys.stderr)
    single = len(pairs) == 1
    if out_arg == "-" and (len(formats) != 1 or not single or args.segment):
        raise InputError("-o - prints one format of one recording; give a folder for more (or --segment).")
    if args.segment and (out_arg == "-" or Path(out_arg).suffix):
        raise InputError("--segment writes a folder of clips: give -o a folder.")
    if pairs:
        _check_outputs(args, pairs, formats, out_arg, single)
    done_sources = set()
    if args.skip_existing:
        keep = []
        for pr in pairs:
            targets = _targets(out_arg, pr, formats, single)
            if out_arg != "-" and all(t.exists() for t in targets.values()):
                done_sources.add(os.path.abspath(pr.audio))
                continue
            keep.append(pr)
        skipped = len(pairs) - len(keep)
        pairs = keep
        if not pairs:
            print(f"nothing to do: all {skipped} inputs already have outputs.", file=sys.stderr)
            return 1 if errors else 0
    if not pairs:
        raise InputError("None of the inputs could be read.")

    segmenter = Segmenter(out_arg, seg_options, model=options.model, cpu_threads=options.cpu_threads) \
        if args.segment else None
    if segmenter is not None and segmenter.done_sources:
        if not args.skip_existing:
            segmenter.manifest.close()
            raise InputError(f"{out_arg} already holds clips from an earlier run; add --skip-existing to resume "
                             "it, or give another folder.")
        before = len(pairs)
        pairs = [p for p in pairs if p.audio not in segmenter.done_sources]
        if not pairs:
            segmenter.manifest.close()
            print(f"nothing to do: all {before} recordings were cut in an earlier run.", file=sys.stderr)
            return 1 if errors else 0
    show = not args.quiet and sys.stderr.isatty()
    bar = None
    if not args.quiet:
        from tqdm import tqdm

        bar = tqdm(total=100 * len(pairs), disable=not show, desc="aligning", dynamic_ncols=True,
                   bar_format="{desc} {percentage:3.0f}%|{bar}| {postfix} [{elapsed}<{remaining}]")
    started = time.perf_counter()
    failed, n_ok, audio_s, n_words, n_unaligned = len(errors), 0, 0.0, 0, 0
    inputs = InputFiles(p.audio for p in pairs)
    stats = None
    if ray.active:
        from ..scale.executor import RunStats

        stats = RunStats()
        results = _ray_results(pairs, options, seg_options if args.segment else None, ray, stats)
        if segmenter is not None:  # clip numbers follow the recordings' order, as in a local run
            results = _in_order(results)
    else:
        results = _local_results(pairs, Aligner(options), bar)
    done = 0
    try:
        for k, result in results:
            pr = pairs[k]
            done += 1
            if isinstance(result, TingshuoError):
                failed += 1
                msg = f"error: {result}"
                (bar.write(msg, file=sys.stderr) if bar is not None and show else print(msg, file=sys.stderr))
                continue
            result, checked = result
            if segmenter is not None:
                try:
                    stem = str(pr.stem).replace(os.sep, "_")
                    if checked is None:
                        segmenter.add(pr.audio, result, stem)
                    else:  # planned and checked on a Ray actor: cut and write the kept clips here
                        segmenter.write_checked(pr.audio, result, checked, stem)
                except TingshuoError as exc:
                    failed += 1
                    print(f"error: {exc}", file=sys.stderr)
                    continue
            # clips first, then the alignment files: their presence marks the recording done (resume)
            for fmt, target in _targets(out_arg, pr, formats, single).items():
                text = render(result, fmt)
                if target is None:
                    sys.stdout.write(text)
                    sys.stdout.flush()
                    continue
                if target in inputs:
                    raise InputError(f"Refusing to overwrite input {target}; choose another output folder.")
                atomic_write_text(target, text)
            n_ok += 1
            audio_s += result.duration_s
            n_words += len(result.words)
            n_unaligned += len(result.unaligned)
            if bar is not None:
                bar.n = 100 * (done if ray.active else k + 1)
                bar.refresh()
    finally:
        if bar is not None:
            bar.close()
        close = getattr(results, "close", None)
        if close is not None:
            close()  # disconnects from Ray (or stops a local one)
        summary = segmenter.close() if segmenter is not None else None
    wall = time.perf_counter() - started
    if not args.quiet:
        speed = f", {wall / audio_s:.2f} x real time" if audio_s else ""
        where = "" if out_arg == "-" else f"; outputs in {out_arg}"
        print(f"aligned {n_ok} recording{'s' if n_ok != 1 else ''} ({audio_s:.1f} s of audio) in {wall:.1f} s{speed}: "
              f"{n_words} words, {n_unaligned} unaligned spans{', %d failed' % failed if failed else ''}{where}",
              file=sys.stderr)
        if summary is not None:
            reasons = "; ".join(f"{r}: {v['hours'] * 60:.1f} min" for r, v in summary["dropped"].items()) or "none"
            print(f"clips: {summary['clips']} kept ({summary['hours_kept'] * 60:.1f} min, "
                  f"{summary['share_kept']:.0%} of the audio); dropped: {reasons}", file=sys.stderr)
        if stats is not None and stats.pids:
            print(f"on Ray: {stats.describe()}", file=sys.stderr)
    return 1 if failed else 0


def _check_outputs(args, pairs: list[Pair], formats: list[str], out_arg: str, single: bool) -> None:
    """Before any model loads: the output folder can be made, and no output lands on the TEXT file or
    the manifest read (``align talk.wav talk.json`` replaced the text; ``align manifest.jsonl -o .
    --segment`` appended clip lines to the input manifest)."""
    from ..util import InputFiles
    from . import prepare_output_dir

    if out_arg == "-":
        return
    targets = [t for pr in pairs for t in _targets(out_arg, pr, formats, single).values() if t is not None]
    if single and len(targets) == 1 and targets[0] == Path(out_arg):  # -o name.json: one file
        if targets[0].is_dir():
            raise InputError(f"{out_arg} is a folder; give -o a file name that is free, or the folder alone.")
        if str(targets[0].parent) not in ("", "."):
            prepare_output_dir(targets[0].parent, "-o")
    else:
        prepare_output_dir(out_arg, "-o")
    sources = [args.inputs[1]] if len(args.inputs) == 2 and args.text is None else \
        [args.inputs[0]] if len(args.inputs) == 1 and args.text is None else []
    sources = [src for src in sources if src != "-" and Path(src).is_file()]
    if args.segment:
        targets += [Path(out_arg) / "manifest.jsonl", Path(out_arg) / "summary.json"]
    srcs = [*sources, *(pr.audio for pr in pairs)]
    guard = InputFiles(srcs)
    for target in targets:
        if target in guard:
            src = next((s for s in srcs if target in InputFiles([s])), target)
            raise InputError(f"Refusing to write {target} over the input {src}; give -o another folder.")


def _no_text(pr: Pair) -> InputError | None:
    if pr.text is None or not pr.text.strip():
        return InputError(f"{pr.audio}: no text for this recording in the manifest; "
                          "every line needs the words that were said.")
    return None


def _local_results(pairs: list[Pair], aligner, bar):
    """``(k, (Alignment, None) or TingshuoError)`` for each pair, aligned here, in order."""
    for k, pr in enumerate(pairs):
        base = 100 * k

        def progress(fraction: float, _base=base) -> None:
            if bar is not None:
                bar.n = _base + round(100 * fraction)
                bar.refresh()

        if bar is not None:
            bar.set_postfix_str(Path(pr.audio).name[-40:])
        try:
            err = _no_text(pr)
            if err is not None:
                raise err
            yield k, (aligner.align(pr.audio, pr.text, language=pr.language, label=pr.audio, on_progress=progress),
                      None)
        except TingshuoError as exc:
            yield k, exc


def _ray_results(pairs: list[Pair], options, segment, ray, stats):
    """The same from Ray actors, as they finish; a pair without text fails here, before anything ships."""
    from ..scale.align import align_many

    todo = []
    for k, pr in enumerate(pairs):
        err = _no_text(pr)
        if err is not None:
            yield k, err
        else:
            todo.append(k)
    ship = [(pairs[k].audio, pairs[k].text, pairs[k].language, pairs[k].audio) for k in todo]
    results = align_many(ship, options, segment, ray=ray, stats=stats)
    try:
        for j, result in results:
            yield todo[j], result
    finally:
        results.close()  # leaves Ray as it was found, also when the caller stops early


def _in_order(results):
    """Results in input order (each index arrives once; later ones wait for the earlier)."""
    waiting: dict = {}
    nxt = 0
    try:
        for k, result in results:
            waiting[k] = result
            while nxt in waiting:
                yield nxt, waiting.pop(nxt)
                nxt += 1
        for k in sorted(waiting):
            yield k, waiting.pop(k)
    finally:
        results.close()
