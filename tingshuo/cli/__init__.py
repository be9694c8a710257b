"""The ``tingshuo`` command: one sub-command per verb, errors as one line, no tracebacks.

Each verb lives in its own module with ``add_parser(subparsers)`` and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from .. import __version__
from ..errors import TingshuoError

# verb -> module (imported only for the verb being run, so `--help` and startup stay fast)
VERBS = {
    "transcribe": "tingshuo.cli.transcribe",
    "models": "tingshuo.cli.models",
    "chat": "tingshuo.cli.chat",
    "speak": "tingshuo.cli.speak",
    "voices": "tingshuo.cli.voices",
    "serve": "tingshuo.cli.serve",
    "inspect": "tingshuo.cli.inspect",
    "train": "tingshuo.cli.train",
    "align": "tingshuo.cli.align",
}

DESCRIPTION = """\
tingshuo (听说) — offline speech toolkit: listen, speak, converse, inspect, search, train.

Everything runs on this machine with the models installed from PyPI; nothing is downloaded."""

EPILOG = """\
examples:
  tingshuo transcribe talk.mp3 --format srt,json -o out/
  tingshuo transcribe clips/ --language zh --skip-existing
  tingshuo chat --kb bank --input question.wav -o out/chat
  tingshuo models
  tingshuo speak "Dr. Lee arrives at 3:30 pm. 我们明天见！" -o hello.mp3
  tingshuo voices
  tingshuo serve --port 8000
  tingshuo inspect train.jsonl -o out/qc --profile tts-training
  tingshuo train asr --config recipes/cathy-ctc/conf.yaml --out runs/cathy
  tingshuo align chapter.mp3 chapter.txt --format json,textgrid -o out/
  tingshuo align book.flac book.txt --segment -o dataset/

Run 'tingshuo COMMAND --help' for the options of a command."""


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32, width=100)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tingshuo", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=HelpFormatter)
    parser.add_argument("--version", action="version", version=f"tingshuo {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for unexpected errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for verb, module in VERBS.items():
        importlib.import_module(module).add_parser(sub)
    return parser


def fail(message: str, code: int = 1) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    debug = args.debug or os.environ.get("TINGSHUO_DEBUG") == "1"
    try:
        return int(args.run(args) or 0)
    except TingshuoError as exc:
        if debug:
            raise
        return fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        print("\ninterrupted; finished outputs are kept, rerun with --skip-existing to resume.", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug, not a user error: say so briefly
        if debug:
            raise
        return fail(f"unexpected {type(exc).__name__}: {exc} (rerun with --debug for the traceback, "
                    "and please report it)", 70)


if __name__ == "__main__":
    sys.exit(main())
