"""``tingshuo inspect``: grade a speech dataset (质检) and write filtered manifests and a report."""

from __future__ import annotations

import sys
import time

EXAMPLES = """\
examples:
  tingshuo inspect clips/ -o out/inspect                        # a folder of audio
  tingshuo inspect train.jsonl -o out/qc --profile tts-training  # ours or NeMo JSONL
  tingshuo inspect data/train -o out/qc --no-asr --jobs 2        # a Kaldi dir, signal checks only
  tingshuo inspect LJSpeech-1.1/metadata.csv -o out/lj --profile my-profile.yaml
  tingshuo inspect corpus.jsonl -o out/qc --ray                  # per-clip work on a Ray cluster

Writes OUTDIR/results.jsonl (metrics, findings, grade per clip), keep/review/drop manifests in
the input's format (grades high/medium/low), report.html and summary.json. Each clip's results
are committed to OUTDIR/store.sqlite as soon as it is measured: rerunning the same command
after a crash or kill resumes, and a grown dataset costs only its new files. Long recordings
stream through in blocks (memory does not grow with their length). Inputs are never modified.

exit status: 0 when every input was read; 1 when some could not be (missing, corrupt, truncated
or empty files, bad manifest lines: each is named on stderr, graded low in results.jsonl, and
the run goes on), or on a usage error (one line on stderr); 3 when a needed model package is
missing."""


def add_parser(sub) -> None:
    from ..options import add_arguments
    from ..quality.base import InspectOptions
    from ..scale.options import add_ray_arguments
    from . import HelpFormatter

    p = sub.add_parser("inspect", help="speech-data quality inspection: grades, reasons, filtered manifests",
                       description="Inspect speech data: unreadable files, duration, sample rate, level, clipping, "
                                   "silence, noise (SNR, DNSMOS), bandwidth, dropouts, duplicates, and transcripts "
                                   "vs our recogniser (error rate, speaking rate, language, truncation).",
                       epilog=EXAMPLES, formatter_class=HelpFormatter)
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="audio files, folders, JSONL (ours/NeMo) manifests, Kaldi dirs or LJSpeech metadata.csv")
    p.add_argument("--output-dir", "-o", required=True, metavar="OUTDIR", help="where results and the report go")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bars or summary table")
    add_arguments(p, InspectOptions)
    add_ray_arguments(p)
    p.set_defaults(run=run)


def run(args) -> int:
    from ..options import from_namespace
    from ..quality.base import InspectOptions
    from ..quality.dataset import inspect_dataset
    from ..scale.options import ray_options

    from . import prepare_output_dir

    options = from_namespace(InspectOptions, args)
    from ..quality.grade import load_profile

    load_profile(options.profile)  # a bad profile fails before any work
    prepare_output_dir(args.output_dir)
    t0 = time.time()
    ray = ray_options(args)
    if ray.active:  # per-clip work on Ray actors; store, duplicates, grades and report stay here
        from ..scale.inspect import ray_stages

        with ray_stages(ray) as stages:
            summary, stats = inspect_dataset(args.inputs, args.output_dir, options, progress=not args.quiet,
                                             **stages)
        if not args.quiet:
            print(f"on Ray: {stages['executor'].stats.describe()}", file=sys.stderr)
    else:
        summary, stats = inspect_dataset(args.inputs, args.output_dir, options, progress=not args.quiet)
    if not args.quiet:
        print(summary.table())
        print(f"\n{stats.n_clips} clips ({stats.audio_s / 3600:.2f} h of audio) in {time.time() - t0:.1f} s; "
              f"{stats.signal_computed} measured, {stats.signal_cached} from the store; "
              f"{len(stats.groups)} duplicate groups.\nreport: {args.output_dir}/report.html", file=sys.stderr)
    for message in stats.input_errors + stats.unreadable:
        print(f"error: {message}", file=sys.stderr)
    more = stats.n_unreadable - len(stats.unreadable)
    if more > 0:
        print(f"error: ... and {more} more unreadable clips (see results.jsonl).", file=sys.stderr)
    bad = stats.n_unreadable + len(stats.input_errors)
    if bad:
        what = [f"{stats.n_unreadable} of {stats.n_clips} clips could not be read"] if stats.n_unreadable else []
        if stats.input_errors:
            what.append(f"{len(stats.input_errors)} input{'s' if len(stats.input_errors) > 1 else ''} held no clip")
        print(f"error: {' and '.join(what)}; the clips are graded low with the reason in "
              f"{args.output_dir}/results.jsonl, the rest were inspected.", file=sys.stderr)
        return 1
    return 0
