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

Writes OUTDIR/results.jsonl (metrics, findings, grade per clip), keep/review/drop manifests in
the input's format (grades high/medium/low), report.html and summary.json. Results are kept in
OUTDIR/store.sqlite as they are computed: rerunning the same command resumes, and a grown
dataset costs only its new files. Inputs are never modified."""


def add_parser(sub) -> None:
    from ..options import add_arguments
    from ..quality.base import InspectOptions
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
    p.set_defaults(run=run)


def run(args) -> int:
    from ..options import from_namespace
    from ..quality.base import InspectOptions
    from ..quality.dataset import inspect_dataset

    options = from_namespace(InspectOptions, args)
    from ..quality.grade import load_profile

    load_profile(options.profile)  # a bad profile fails before any work
    t0 = time.time()
    summary, stats = inspect_dataset(args.inputs, args.output_dir, options, progress=not args.quiet)
    if not args.quiet:
        print(summary.table())
        print(f"\n{stats.n_clips} clips ({stats.audio_s / 3600:.2f} h of audio) in {time.time() - t0:.1f} s; "
              f"{stats.signal_computed} measured, {stats.signal_cached} from the store; "
              f"{len(stats.groups)} duplicate groups.\nreport: {args.output_dir}/report.html", file=sys.stderr)
    return 0
