"""What the inspector takes and gives back: clips, options, findings, per-clip results.

    >>> Clip("a.wav", text="hello", lang="en")                          # doctest: +SKIP
    >>> InspectOptions(profile="tts-training", asr=False)               # doctest: +SKIP
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..options import opt

GRADES = ("high", "medium", "low")
MAX_JOBS = 256
SEVERITIES = ("drop", "review", "note")  # drop -> grade low, review -> medium, note -> no effect


@dataclass(frozen=True)
class Clip:
    """One clip to inspect: an audio path and, optionally, its transcript and declared language."""

    audio: str
    text: str | None = None
    lang: str | None = None
    id: str | None = None


@dataclass(frozen=True)
class InspectOptions:
    """How to inspect; thresholds live in the profile (see docs/inspect.md)."""

    profile: str = opt("asr-training", "threshold profile: asr-training, tts-training, or a YAML file",
                       metavar="NAME|YAML")
    asr: bool = opt(True, "check transcripts against our recogniser (CER/WER, language, truncation)")
    dnsmos: bool = opt(True, "score DNSMOS SIG/BAK/OVRL/P808 (speechmos ONNX models)")
    duplicates: bool = opt(True, "find exact and near-duplicate audio and duplicate transcripts")
    jobs: int = opt(0, "worker processes for the signal checks (0 = all cores)")
    asr_model: str | None = opt(None, "recogniser for the transcript checks (catalog name or folder)",
                                shown="whisper-base")
    asr_threads: int = opt(0, "CPU threads for the recogniser (0 = all cores)")
    store: str | None = opt(None, "SQLite file that keeps results for resuming (default: none / OUTDIR/store.sqlite)",
                            cli=False)

    def __post_init__(self) -> None:
        if not 0 <= self.jobs <= MAX_JOBS:
            raise ValueError(f"jobs must be 0 (all cores) or a number of processes from 1 to {MAX_JOBS}, not {self.jobs}.")
        if not 0 <= self.asr_threads <= MAX_JOBS:
            raise ValueError(f"asr_threads must be 0 (all cores) or a number of threads from 1 to {MAX_JOBS}, "
                             f"not {self.asr_threads}.")

    @property
    def n_jobs(self) -> int:
        return self.jobs or max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class Finding:
    """One problem found in a clip: which check, how bad, and the number behind it."""

    check: str
    severity: str  # drop | review | note
    message: str
    value: Any = None
    threshold: Any = None

    def to_dict(self) -> dict:
        v = round(self.value, 4) if isinstance(self.value, float) else self.value
        return {"check": self.check, "severity": self.severity, "message": self.message,
                "value": v, "threshold": self.threshold}


@dataclass(frozen=True)
class ClipResult:
    """The verdict on one clip: grade (high/medium/low), findings that explain it, and all metrics."""

    audio: str
    grade: str
    findings: tuple[Finding, ...]
    metrics: Mapping[str, Any] = field(default_factory=dict)
    id: str | None = None
    text: str | None = None
    lang: str | None = None
    key: str | None = None  # content hash of the file

    @property
    def reasons(self) -> list[str]:
        return [f.message for f in self.findings if f.severity != "note"]

    def to_dict(self) -> dict:
        metrics = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.metrics.items()}
        return {"audio": self.audio, "id": self.id, "grade": self.grade, "text": self.text, "lang": self.lang,
                "key": self.key, "findings": [f.to_dict() for f in self.findings], "metrics": metrics}
