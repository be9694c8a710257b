"""The first pass's second hearing of a chunk in which Whisper skipped a stretch (align.listen._chunk_words).

The engine here is a scripted stand-in for the splice logic only; the real skip (Whisper base, batched,
on our English voice reading "during the next fifteen or twenty years not only by Schoeffer, seven of
clubs") is in docs/benchmarks-align.md."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tingshuo.align import listen as L
from tingshuo.asr.base import TranscribeOptions


@dataclass
class W:
    start_s: float
    end_s: float
    text: str
    probability: float = 0.9


@dataclass
class Seg:
    words: list


@dataclass
class Res:
    segments: list


class Engine:
    def __init__(self, again):
        self.again, self.calls = again, []

    def transcribe_batch(self, chunks, options, languages):
        self.calls.append(chunks[0].size / L.SAMPLE_RATE)
        return [Res([Seg(self.again)])]


OPTS = TranscribeOptions(language="en", word_timestamps=True)
SAMPLES = np.zeros(10 * L.SAMPLE_RATE, np.float32)
SKIPPED = Res([Seg([W(0.0, 0.3, "during"), W(0.3, 5.2, "the"), W(5.6, 5.9, "He")])])


def test_a_word_stretched_over_a_skipped_stretch_is_heard_again_from_it():
    eng = Engine([W(0.0, 0.2, "the"), W(0.2, 0.4, "next"), W(0.4, 0.9, "15"), W(0.9, 1.1, "or"),
                  W(1.1, 1.4, "20"), W(5.3, 5.6, "He")])
    words = L._chunk_words(eng, SAMPLES, SKIPPED, OPTS, "en")
    assert eng.calls == [10 - 0.3]  # from the long word to the chunk's end
    assert [w.text for w in words] == ["during", "the", "next", "15", "or", "20", "He"]
    assert abs(words[1].start_s - 0.3) < 1e-9 and abs(words[-1].start_s - 5.6) < 1e-9  # chunk times


def test_heard_the_same_again_the_first_hearing_stays():
    eng = Engine([W(0.0, 4.9, "the"), W(5.3, 5.6, "He")])  # a first word that took the pause before it
    assert L._chunk_words(eng, SAMPLES, SKIPPED, OPTS, "en") == SKIPPED.segments[0].words


def test_no_long_word_no_second_hearing():
    eng = Engine([])
    res = Res([Seg([W(0.0, 0.3, "during"), W(0.3, 0.5, "the")])])
    assert L._chunk_words(eng, SAMPLES, res, OPTS, "en") == res.segments[0].words and eng.calls == []
