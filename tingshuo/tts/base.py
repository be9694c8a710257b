"""What speech synthesis is to the rest of tingshuo: options, voices, and one small protocol.

An engine turns one normalised sentence (or a run of one script inside it) in its language
into audio chunks at its own sample rate. Splitting, normalisation, choosing a voice per
script, resampling, joining and timing live once, above the engines (``stream.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Protocol

from ..options import opt
from ..types import AudioChunk


@dataclass(frozen=True)
class SpeakOptions:
    """How to speak. Each default is stated here once; CLI flags and server fields derive from it."""

    rate: float = opt(1.0, "speaking rate multiplier: 1.0 normal, 0.5 half speed, 2.0 twice as fast")
    sample_rate: int | None = opt(None, "output sample rate in Hz", metavar="HZ", shown="the voice's own")
    sentence_pause_s: float = opt(0.3, "silence between sentences, in seconds", metavar="SECONDS")
    normalize_text: bool = opt(True, "read numbers, dates, times, money and abbreviations as words")
    variation: float = opt(0.667, "random variation in the voice (Piper's noise scale; 0 = flat)", cli=False)

    def __post_init__(self) -> None:
        if not 0.25 <= self.rate <= 4.0:
            raise ValueError(f"rate must be between 0.25 and 4.0, not {self.rate}.")
        if self.sample_rate is not None and not 8000 <= self.sample_rate <= 48000:
            raise ValueError(f"sample_rate must be between 8000 and 48000 Hz, not {self.sample_rate}.")
        if not 0.0 <= self.sentence_pause_s <= 5.0:
            raise ValueError(f"sentence_pause_s must be between 0 and 5 seconds, not {self.sentence_pause_s}.")
        if not 0.0 <= self.variation <= 1.5:
            raise ValueError(f"variation must be between 0 and 1.5, not {self.variation}.")


@dataclass(frozen=True)
class VoiceInfo:
    """A voice tingshuo can speak with.

    ``model`` is its catalog entry (``tingshuo models``); ``installed`` says whether it can speak now.
    """

    name: str
    languages: tuple[str, ...]
    sample_rate: int
    engine: str
    licence: str
    installed: bool
    model: str
    description: str = ""
    default_for: tuple[str, ...] = ()
    config: tuple[tuple[str, str], ...] = ()  # engine settings, e.g. (("espeak_voice", "cmn"),)

    @property
    def language(self) -> str:
        return self.languages[0]

    def to_dict(self) -> dict:
        return {"name": self.name, "languages": list(self.languages), "sample_rate": self.sample_rate,
                "engine": self.engine, "licence": self.licence, "installed": self.installed, "model": self.model,
                "default_for": list(self.default_for), "description": self.description}


class TTSEngine(Protocol):
    name: str
    sample_rate: int

    def synthesize(self, text: str, voice: VoiceInfo, options: SpeakOptions) -> Iterator[AudioChunk]:
        """Speak one normalised piece of text; chunk times are relative to its start.

        A chunk's ``meta["words"]`` may hold ``[(start_s, end_s, word)]`` when the engine knows durations.
        """
        ...
