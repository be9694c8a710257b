"""Results shared by the verbs: frozen dataclasses, times in float seconds.

``to_dict()`` turns a result into JSON-ready data at the edge (CLI files, server replies).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if hasattr(value, "to_dict"):
            return value.to_dict()
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float):
        return round(value, 3)
    return value


@dataclass(frozen=True, eq=False)
class Audio:
    """Mono float32 samples in [-1, 1] and their rate.

    >>> a = Audio(np.zeros(16000, np.float32), 16000)
    >>> a.duration_s
    1.0
    """

    samples: np.ndarray  # shape (n_samples,), float32
    sample_rate: int
    source: str | None = None

    @property
    def n_samples(self) -> int:
        return int(self.samples.shape[0])

    @property
    def duration_s(self) -> float:
        return self.n_samples / float(self.sample_rate)


@dataclass(frozen=True)
class Word:
    start_s: float
    end_s: float
    text: str
    probability: float = 1.0

    def to_dict(self) -> dict:
        return {"start": round(self.start_s, 3), "end": round(self.end_s, 3),
                "word": self.text, "probability": round(float(self.probability), 4)}


@dataclass(frozen=True)
class Segment:
    """A stretch of recognised speech; ``words`` is empty unless word timestamps were asked for."""

    start_s: float
    end_s: float
    text: str
    words: tuple[Word, ...] = ()
    language: str | None = None
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0
    compression_ratio: float = 0.0
    temperature: float = 0.0

    def to_dict(self) -> dict:
        d = {"start": round(self.start_s, 3), "end": round(self.end_s, 3), "text": self.text,
             "language": self.language, "avg_logprob": round(self.avg_logprob, 4),
             "no_speech_prob": round(self.no_speech_prob, 4),
             "compression_ratio": round(self.compression_ratio, 3),
             "temperature": self.temperature}
        if self.words:
            d["words"] = [w.to_dict() for w in self.words]
        return d

    def shifted(self, offset_s: float) -> "Segment":
        """The same segment with every time moved by ``offset_s``."""
        return self.retimed(lambda t, is_end=False: t + offset_s)

    def retimed(self, to_time) -> "Segment":
        """The same segment with each time ``t`` replaced by ``to_time(t, is_end)``."""
        words = tuple(dataclasses.replace(w, start_s=to_time(w.start_s), end_s=to_time(w.end_s, True))
                      for w in self.words)
        return dataclasses.replace(self, start_s=to_time(self.start_s), end_s=to_time(self.end_s, True),
                                   words=words)


@dataclass(frozen=True)
class Transcript:
    """What was said in one audio input."""

    text: str
    segments: tuple[Segment, ...]
    language: str | None
    language_probability: float
    duration_s: float
    source: str | None = None
    model: str | None = None

    @classmethod
    def from_segments(cls, segments: tuple[Segment, ...], **kw) -> "Transcript":
        return cls(text=join_segment_texts(segments), segments=segments, **kw)

    def to_dict(self) -> dict:
        return {"text": self.text, "language": self.language,
                "language_probability": round(self.language_probability, 4),
                "duration": round(self.duration_s, 3), "source": self.source, "model": self.model,
                "segments": [s.to_dict() for s in self.segments]}


def join_segment_texts(segments) -> str:
    """Join segment texts: with spaces between Latin-script pieces, none between CJK ones."""
    out = ""
    for seg in segments:
        piece = seg.text.strip()
        if not piece:
            continue
        if out and _needs_space(out[-1], piece[0]):
            out += " "
        out += piece
    return out


def _is_cjk(ch: str) -> bool:
    return "\u3000" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef" or "\uf900" <= ch <= "\ufaff"


def _needs_space(left: str, right: str) -> bool:
    return not (_is_cjk(left) or _is_cjk(right))


@dataclass(frozen=True, eq=False)
class AudioChunk:
    """A piece of synthesised or streamed audio, with the text it speaks (if any)."""

    samples: np.ndarray  # float32 mono
    sample_rate: int
    text: str = ""
    start_s: float = 0.0  # where this chunk starts in the whole utterance
    is_last: bool = False
    meta: dict = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return self.samples.shape[0] / float(self.sample_rate)


def to_dict(value: Any) -> Any:
    """JSON-ready form of any result (dataclass, list of them, plain data)."""
    return _jsonable(value)
