"""Options are frozen dataclasses; CLI flags, request fields and YAML keys derive from them.

Each default is stated once, on the dataclass field::

    @dataclass(frozen=True)
    class SpeakOptions:
        rate: float = opt(1.0, "speaking rate, 0.5-2.0")

    add_arguments(parser, SpeakOptions)            # --rate FLOAT
    opts = from_namespace(SpeakOptions, args)      # SpeakOptions(rate=...)
    opts = from_mapping(SpeakOptions, {"rate": 1.2})
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import types
import typing
from typing import Any, Mapping, TypeVar

from .errors import InputError

T = TypeVar("T")


def opt(default: Any, help: str, *, choices: typing.Sequence[Any] | None = None,
        flag: str | None = None, cli: bool = True, metavar: str | None = None, shown: str | None = None) -> Any:
    """A dataclass field with a default and the help text the CLI and API docs show.

    ``shown`` is how the default reads in --help when the value itself says little (None).
    """
    meta = {"help": help, "choices": choices, "flag": flag, "cli": cli, "metavar": metavar, "shown": shown}
    if isinstance(default, (list, dict, set)):
        raise TypeError("use tuples, not mutable defaults")
    return dataclasses.field(default=default, metadata=meta)


def _base_type(tp: Any) -> tuple[Any, bool]:
    """(inner type, optional?) for X, X | None, Optional[X]."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return (args[0] if len(args) == 1 else str), True
    return tp, False


def _hints(cls) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _parse_value(tp: Any, raw: Any, name: str) -> Any:
    inner, optional = _base_type(tp)
    if raw is None:
        return None
    if optional and isinstance(raw, str) and raw.lower() in ("", "none", "auto", "null"):
        return None
    origin = typing.get_origin(inner)
    try:
        if origin is tuple:
            (elem, *_rest) = typing.get_args(inner) or (str,)
            items = raw.split(",") if isinstance(raw, str) else list(raw)
            return tuple(_parse_value(elem, x.strip() if isinstance(x, str) else x, name)
                         for x in items if not (isinstance(x, str) and not x.strip()))
        if inner is bool:
            if isinstance(raw, str):
                if raw.lower() in ("1", "true", "yes", "on"):
                    return True
                if raw.lower() in ("0", "false", "no", "off"):
                    return False
                raise ValueError(raw)
            return bool(raw)
        if inner in (int, float, str):
            value = inner(raw)
            if inner is float and not math.isfinite(value):  # nan passes every range check
                raise ValueError(raw)
            return value
    except (TypeError, ValueError, OverflowError):
        what = "a finite number" if inner is float else getattr(inner, "__name__", inner)
        raise InputError(f"Option '{name}' expects {what}, got {raw!r}.") from None
    return raw


def add_arguments(parser: argparse.ArgumentParser, cls: type, *, only: typing.Iterable[str] | None = None,
                  skip: typing.Iterable[str] = ()) -> None:
    """Add one ``--flag`` per field of ``cls`` that has help text (defaults shown, not duplicated)."""
    hints = _hints(cls)
    only_set = set(only) if only is not None else None
    for f in dataclasses.fields(cls):
        meta = f.metadata
        if not meta.get("cli", False) or f.name in skip or (only_set is not None and f.name not in only_set):
            continue
        flag = meta.get("flag") or "--" + f.name.replace("_", "-")
        inner, optional = _base_type(hints[f.name])
        default = f.default
        help_text = meta["help"]
        if meta.get("shown"):
            shown = meta["shown"]
        elif default is None:
            shown = "auto"
        elif isinstance(default, tuple):
            shown = ",".join(map(str, default)) or "none"
        else:
            shown = default if default != "" else "none"
        if inner is bool:
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None,
                                help=f"{help_text} (default: {'on' if default else 'off'})")
            continue
        parser.add_argument(flag, dest=f.name, default=None, choices=meta.get("choices"),
                            metavar=meta.get("metavar") or (None if meta.get("choices") else f.name.upper()),
                            help=f"{help_text} (default: {shown})")


def from_mapping(cls: type[T], values: Mapping[str, Any], base: T | None = None) -> T:
    """Build ``cls`` from a mapping of field names (YAML, JSON, form fields); unknown keys fail."""
    hints = _hints(cls)
    names = {f.name: f for f in dataclasses.fields(cls)}
    changes = {}
    for key, raw in values.items():
        k = key.replace("-", "_")
        if k not in names:
            raise InputError(f"Unknown option '{key}'; valid options: {', '.join(sorted(names))}.")
        value = _parse_value(hints[k], raw, key)
        choices = names[k].metadata.get("choices")
        if choices and value is not None and value not in choices:
            raise InputError(f"Option '{key}' must be one of {', '.join(map(str, choices))}, not {raw!r}.")
        changes[k] = value
    try:
        return dataclasses.replace(base, **changes) if base is not None else cls(**changes)
    except ValueError as exc:  # __post_init__ combination checks
        raise InputError(str(exc)) from None


def from_namespace(cls: type[T], ns: argparse.Namespace, base: T | None = None) -> T:
    """Build ``cls`` from parsed CLI arguments; flags left unset keep the dataclass default."""
    values = {f.name: getattr(ns, f.name) for f in dataclasses.fields(cls)
              if getattr(ns, f.name, None) is not None}
    return from_mapping(cls, values, base)


def describe(cls: type) -> list[dict[str, Any]]:
    """Name, type, default and help of each field: for docs and the server's schema."""
    hints = _hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        if "help" not in f.metadata:
            continue
        inner, optional = _base_type(hints[f.name])
        out.append({"name": f.name, "type": getattr(inner, "__name__", str(inner)), "optional": optional,
                    "default": f.default, "help": f.metadata["help"], "choices": f.metadata.get("choices")})
    return out
