"""``tingshuo models``: the offline model catalog, with licences and what is installed."""

from __future__ import annotations

import json


def add_parser(sub) -> None:
    from . import HelpFormatter

    p = sub.add_parser(
        "models", help="list the offline models, their licences and whether they are installed",
        formatter_class=HelpFormatter,
        description="List every model tingshuo knows: name, kind, languages, size, licence, installed or not.\n"
                    "Models come only from PyPI packages; a missing one names its pip command.",
        epilog="examples:\n  tingshuo models\n  tingshuo models --kind asr --json")
    p.add_argument("--kind", help="only this kind (asr, vad, tts, ...)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(run=run)


def rows(kind: str | None = None) -> list[dict]:
    from .. import models

    out = []
    for name in models.names(kind):
        spec = models.get(name)
        installed = models.is_installed(name)
        out.append({"name": name, "kind": spec.kind, "engine": spec.engine, "languages": list(spec.languages),
                    "size_mb": round(models.size_mb(name), 1), "licence": spec.licence, "installed": installed,
                    "default": bool(spec.default_for), "pip": list(spec.pip),
                    "install": None if installed else spec.install_hint, "description": spec.description,
                    "notes": spec.notes})
    return out


def run(args) -> int:
    data = rows(args.kind)
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    header = ("NAME", "KIND", "LANGUAGES", "SIZE", "LICENCE", "INSTALLED")
    table = [header] + [
        (r["name"] + (" *" if r["default"] else ""), r["kind"], ",".join(r["languages"]), f"{r['size_mb']:.0f} MB",
         r["licence"], "yes" if r["installed"] else "no") for r in data]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())
    print("\n* default for its kind.")
    missing = [r for r in data if not r["installed"]]
    for r in missing:
        print(f"to install {r['name']}: {r['install']}")
    notes = [r for r in data if r["notes"]]
    for r in notes:
        print(f"note on {r['name']}: {r['notes']}")
    return 0
