"""What a speech recogniser is to the rest of tingshuo: options, and one small protocol.

An engine turns a batch of short chunks (at most ``max_chunk_s`` of 16 kHz mono each) into
segments with chunk-relative times. Everything around that — decoding files, VAD chunking,
batching across files, time offsets, output formats — lives once, above the engines.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np

from ..options import opt
from ..types import Segment


@dataclass(frozen=True)
class TranscribeOptions:
    """How to transcribe. Each default is stated here once; CLI flags derive from it."""

    language: str | None = opt(None, "spoken language code (en, zh, ...) or auto to detect per chunk",
                               metavar="LANG")
    task: str = opt("transcribe", "transcribe, or translate speech into English",
                    choices=("transcribe", "translate"))
    beam_size: int = opt(5, "beam width for decoding (1 = greedy, fastest)")
    word_timestamps: bool = opt(False, "also time each word")
    initial_prompt: str | None = opt(None, "text that primes vocabulary and style (names, jargon)",
                                     metavar="TEXT", shown="none; Mandarin gets a simplified-Chinese primer")
    chinese_script: str = opt("simplified", "script for Chinese output",
                              choices=("simplified", "traditional", "as-is"))
    vad: bool = opt(True, "skip silence and noise with voice activity detection")
    batch_size: int = opt(8, "chunks decoded together (across files)")
    temperatures: tuple[float, ...] = opt((0.0, 0.2, 0.4, 0.6, 0.8, 1.0),
                                          "sampling temperatures tried in turn when decoding fails", cli=False)
    compression_ratio_threshold: float = opt(2.4, "above this gzip ratio a decode counts as a loop", cli=False)
    log_prob_threshold: float = opt(-1.0, "below this mean log-probability a decode counts as failed", cli=False)
    no_speech_threshold: float = opt(0.6, "no-speech probability above which a failed decode is silence",
                                     cli=False)
    hotwords: tuple[str, ...] = opt((), "comma-separated words or phrases to favour (names, jargon); "
                                        "each language gets those written in its script", metavar="WORDS")
    full_window: bool = opt(False, "always encode whole 30 s windows (slower; dynamic windows are the default)",
                            cli=False)

    def __post_init__(self) -> None:
        if not 1 <= self.beam_size <= 100:
            raise ValueError(f"beam_size must be at least 1 and at most 100, not {self.beam_size}.")
        if not 1 <= self.batch_size <= 512:
            raise ValueError(f"batch_size must be at least 1 and at most 512, not {self.batch_size}.")
        if self.task not in ("transcribe", "translate"):
            raise ValueError("task must be 'transcribe' or 'translate'.")
        if not self.temperatures:
            raise ValueError("temperatures must hold at least one value.")


@dataclass(frozen=True)
class ChunkResult:
    """An engine's answer for one chunk: segments timed from the chunk's start.

    ``unconsumed`` lists stretches (chunk seconds) the engine left out and would transcribe
    better with more context; the pipeline packs them at the front of the file's next chunk.
    """

    segments: tuple[Segment, ...]
    language: str | None
    language_probability: float
    unconsumed: tuple[tuple[float, float], ...] = ()


class ASREngine(Protocol):
    name: str
    max_chunk_s: float  # the longest chunk the engine takes
    multilingual: bool

    def transcribe_batch(self, chunks: Sequence[np.ndarray], options: TranscribeOptions,
                         languages: Sequence[str | None] | None = None) -> list[ChunkResult]:
        """Recognise each 16 kHz float32 chunk; ``languages[i]`` None means detect it."""
        ...
