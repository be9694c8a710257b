"""``tingshuo train``: train ASR and quality models, decode with them, export them to ONNX."""

from __future__ import annotations

import json
import os
import sys

EXAMPLES = """\
examples:
  tingshuo train asr --train train.jsonl --valid valid.jsonl --out runs/x          # defaults: Conformer, chars
  tingshuo train asr --config recipes/cathy-ctc/conf.yaml --out runs/cathy
  tingshuo train asr --config recipes/cathy-ctc/conf.yaml --out runs/cathy --resume  # after ^C or a crash
  tingshuo train decode runs/cathy test.jsonl --method rescore                      # CER/WER, hyps.jsonl
  tingshuo train export runs/cathy                                                  # runs/cathy/export/
  tingshuo transcribe talk.wav --model runs/cathy/export                            # no torch needed
  tingshuo train quality --train labels.jsonl --valid held.jsonl --out runs/q

Manifests are JSONL (ours: audio, text, lang; or NeMo), Kaldi data dirs or LJSpeech metadata.csv.
A run folder keeps config.yaml, tokenizer.json, cmvn.json, metrics.csv, learning_curves.png,
last.pt (checkpoints every N steps and on ^C/SIGTERM) and best.pt (best validation CER).
Training needs PyTorch: pip install 'tingshuo[train]'. Using an exported model does not."""


def add_parser(sub) -> None:
    from . import HelpFormatter

    p = sub.add_parser("train", help="train ASR and quality models on your manifests; export to ONNX",
                       description="Train audio-text models with PyTorch: joint CTC/attention ASR (Conformer or "
                                   "Transformer) and a multimodal quality classifier.",
                       epilog=EXAMPLES, formatter_class=HelpFormatter)
    tsub = p.add_subparsers(dest="train_command", metavar="WHAT")
    for what, helptext in (("asr", "train a CTC/attention speech recogniser"),
                           ("quality", "train the audio+text quality classifier (grades, defects)")):
        q = tsub.add_parser(what, help=helptext, description=helptext, epilog=EXAMPLES, formatter_class=HelpFormatter)
        q.add_argument("--config", "-c", metavar="YAML", help="run configuration (fields of RunConfig, "
                                                              "sections model: and augment:)")
        q.add_argument("--train", metavar="MANIFEST", help="training manifest (overrides the config)")
        q.add_argument("--valid", metavar="MANIFEST", help="validation manifest (overrides the config)")
        q.add_argument("--out", "-o", metavar="DIR", help="run directory (overrides the config)")
        q.add_argument("--resume", action="store_true", help="continue the run in --out from last.pt")
        q.add_argument("--epochs", type=int, help="override epochs")
        q.add_argument("--max-minutes", type=float, help="override the training time limit")
        q.add_argument("--device", help="cpu, cuda or auto")
        q.add_argument("--threads", type=int, help="torch CPU threads")
        q.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
        q.set_defaults(run=run, what=what)
    e = tsub.add_parser("export", help="export a run's encoder + CTC head to ONNX (for tingshuo transcribe)",
                        formatter_class=HelpFormatter, epilog=EXAMPLES)
    e.add_argument("run_dir", metavar="RUN_DIR")
    e.add_argument("--out", "-o", metavar="DIR", help="export folder (default: RUN_DIR/export)")
    e.add_argument("--checkpoint", default="best", choices=("best", "last", "averaged"), help="which checkpoint (default: best)")
    e.set_defaults(run=run, what="export")
    d = tsub.add_parser("decode", help="decode a manifest with a trained run and score it",
                        formatter_class=HelpFormatter, epilog=EXAMPLES)
    d.add_argument("run_dir", metavar="RUN_DIR")
    d.add_argument("manifest", metavar="MANIFEST")
    d.add_argument("--method", default="greedy", choices=("greedy", "beam", "rescore"),
                   help="greedy CTC, attention beam search, or CTC n-best rescored by attention (default: greedy)")
    d.add_argument("--beam", type=int, default=10, help="beam width (default: 10)")
    d.add_argument("--ctc-weight", type=float, default=0.5, help="CTC weight when rescoring (default: 0.5)")
    d.add_argument("--checkpoint", default="best", choices=("best", "last", "averaged"), help="which checkpoint (default: best)")
    d.add_argument("--hyps", metavar="JSONL", help="where the hypotheses go (default: RUN_DIR/hyps-METHOD.jsonl)")
    d.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    d.set_defaults(run=run, what="decode")
    p.set_defaults(run=lambda args: (p.print_help(), 2)[1], what=None)


def _check_numbers(args) -> None:
    from . import check_float, check_int

    if getattr(args, "epochs", None) is not None:
        check_int(args.epochs, "--epochs", 1, 100000)
    if getattr(args, "max_minutes", None) is not None:
        check_float(args.max_minutes, "--max-minutes", 0.01, 1e7)
    if getattr(args, "threads", None) is not None:
        check_int(args.threads, "--threads", 0, 1024, "0: torch's choice")
    if getattr(args, "beam", None) is not None:
        check_int(args.beam, "--beam", 1, 100)
    if getattr(args, "ctc_weight", None) is not None:
        check_float(args.ctc_weight, "--ctc-weight", 0.0, 1.0)


def run(args) -> int:
    from ..train import require_torch

    _check_numbers(args)
    require_torch()
    if args.what in ("asr", "quality"):
        return _train(args)
    if args.what == "export":
        from ..train.export import export_run
        from . import prepare_output_dir

        if args.out:
            prepare_output_dir(args.out, "--out")

        out = export_run(args.run_dir, args.out, which=args.checkpoint)
        print(json.dumps(out, indent=2))
        print(f"exported to {out['export_dir']}; try: tingshuo transcribe FILE --model {out['export_dir']}",
              file=sys.stderr)
        return 0
    if args.what == "decode":
        import torch

        from ..train.asr import decode_manifest

        if args.threads:
            torch.set_num_threads(args.threads)
        from . import prepare_output_dir

        hyps = args.hyps or os.path.join(args.run_dir, f"hyps-{args.method}.jsonl")
        if os.path.isdir(hyps):
            from ..errors import InputError

            raise InputError(f"--hyps {hyps} is a folder; give a file name such as {os.path.join(hyps, 'hyps.jsonl')}.")
        if args.hyps:
            prepare_output_dir(os.path.dirname(os.path.abspath(hyps)), "--hyps")
        result = decode_manifest(args.run_dir, args.manifest, method=args.method, beam=args.beam,
                                 ctc_weight=args.ctc_weight, out=hyps, which=args.checkpoint)
        print(json.dumps(result, indent=2))
        return 0
    return 2


def _train(args) -> int:
    from ..train.config import load_config

    overrides = {"kind": args.what, "train": _abs(args.train), "valid": _abs(args.valid), "out": args.out,
                 "epochs": args.epochs, "max_minutes": args.max_minutes, "device": args.device,
                 "threads": args.threads}
    cfg = load_config(args.config, **overrides)
    if cfg.kind != args.what:
        from ..errors import InputError

        raise InputError(f"The config is for kind '{cfg.kind}'; run 'tingshuo train {cfg.kind}' instead.")
    if not cfg.out:
        from ..errors import InputError

        raise InputError("Say where the run goes: --out DIR (or 'out:' in the config).")
    from . import prepare_output_dir

    prepare_output_dir(cfg.out, "--out")  # before any audio is read: a file or unwritable path is one line
    if args.what == "asr":
        from ..train.asr import train_asr

        summary = train_asr(cfg, resume=args.resume, progress=not args.quiet)
    else:
        from ..train.quality import train_quality

        summary = train_quality(cfg, resume=args.resume, progress=not args.quiet)
    print(json.dumps(summary, indent=2))
    if summary["reason"] == "interrupted":
        print(f"interrupted; resume with: tingshuo train {args.what} --out {cfg.out} --resume", file=sys.stderr)
        return 130
    return 0


def _abs(path):
    return os.path.abspath(path) if path else None
