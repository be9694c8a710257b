"""Profiles (named threshold sets, editable YAML) and the grade they give a clip.

A threshold ``min_X`` / ``max_X`` applies to metric ``X``; it may set ``review`` and ``drop``
levels. Any ``drop`` finding grades a clip *low*, any ``review`` finding *medium*, else *high*.

    >>> p = load_profile("asr-training")
    >>> p.judge("duration_s", 0.1)[0].severity
    'drop'
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from ..errors import InputError
from .base import Finding

PROFILE_DIR = Path(__file__).parent / "profiles"
LEVELS = ("drop", "review")


def profile_names() -> list[str]:
    return sorted(p.stem for p in PROFILE_DIR.glob("*.yaml"))


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    thresholds: Mapping[str, Mapping[str, float]]  # "min_duration_s" -> {"review": 0.5, "drop": 0.2}
    path: str | None = None

    def limits(self, metric: str, direction: str) -> Mapping[str, float]:
        return self.thresholds.get(f"{direction}_{metric}") or {}

    def judge(self, metric: str, value: Any, check: str = "", what: str | None = None,
              unit: str = "") -> list[Finding]:
        """Findings for one metric value against its min_/max_ thresholds (none when within)."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return []
        what = what or metric
        for direction in ("min", "max"):
            lim = self.limits(metric, direction)
            for level in LEVELS:  # the worse level first
                t = lim.get(level)
                if t is None:
                    continue
                bad = value < t if direction == "min" else value > t
                if bad and isinstance(value, int) and value in (0, 1) and direction == "max" and t == 0:
                    return [Finding(check or metric, level, what, value, t)]  # a yes/no finding
                if bad:
                    rel = "below" if direction == "min" else "above"
                    return [Finding(check or metric, level,
                                    f"{what} {_fmt(value)}{unit} is {rel} the {level} limit {_fmt(t)}{unit}",
                                    value, t)]
        return []

    def enabled(self, metric: str, direction: str) -> bool:
        return bool(self.limits(metric, direction))


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 10 else f"{v:.1f}"
    return str(v)


def load_profile(name_or_path: str | Profile) -> Profile:
    """A shipped profile by name (asr-training, tts-training) or a YAML file with the same keys."""
    from ..util import read_yaml_mapping

    if isinstance(name_or_path, Profile):
        return name_or_path
    p = Path(name_or_path)
    if not (p.suffix in (".yaml", ".yml") or p.exists()):
        p = PROFILE_DIR / f"{name_or_path}.yaml"
        if not p.exists():
            raise InputError(f"Unknown profile '{name_or_path}'; choose one of: {', '.join(profile_names())}, "
                             "or give a YAML file.")
    if not p.is_file():
        raise InputError(f"Profile file {p} not found; copy one from {PROFILE_DIR} and edit it.")
    data = read_yaml_mapping(p, "Profile")
    th = data.get("thresholds")
    if not isinstance(th, dict):
        raise InputError(f"Profile {p} needs a 'thresholds:' mapping (see {PROFILE_DIR / 'asr-training.yaml'}).")
    clean: dict[str, dict[str, float]] = {}
    for key, lim in th.items():
        if not (key.startswith("min_") or key.startswith("max_")):
            raise InputError(f"Profile {p}: threshold '{key}' must start with min_ or max_.")
        lim = lim or {}
        if not isinstance(lim, dict) or set(lim) - set(LEVELS):
            raise InputError(f"Profile {p}: '{key}' takes only 'review' and 'drop' levels.")
        try:
            clean[key] = {k: float(v) for k, v in lim.items()}
        except (TypeError, ValueError, OverflowError):
            raise InputError(f"Profile {p}: '{key}' levels must be numbers.") from None
        if not all(math.isfinite(v) for v in clean[key].values()):  # NaN fails every comparison: never fires
            raise InputError(f"Profile {p}: '{key}' levels must be finite numbers, not {lim}.")
    return Profile(name=str(data.get("name") or p.stem), description=str(data.get("description") or ""),
                   thresholds=clean, path=str(p))


def grade_of(findings: Iterable[Finding]) -> str:
    sev = {f.severity for f in findings}
    return "low" if "drop" in sev else "medium" if "review" in sev else "high"
