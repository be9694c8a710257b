"""What alignment is to the rest of tingshuo: options and results (frozen dataclasses).

The JSON form (``Alignment.to_dict``) is a contract that scripts depend on::

    {"audio": "talk.wav", "language": "en",
     "words": [{"text": "Hello", "start_s": 0.52, "end_s": 0.88, "score": 0.93}, ...],
     "unaligned": [{"text": "Preface ...", "start_s": 0.0, "end_s": 0.0, "kind": "text"}, ...]}

Mandarin has one entry per character in ``words``. ``unaligned`` holds text that was not said
(``kind`` "text", placed where it would have been) and speech that is not in the text (``kind``
"speech", with what the recogniser heard).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..options import opt


@dataclass(frozen=True)
class AlignOptions:
    """How to align. Each default is stated here once; CLI flags and request fields derive from it."""

    language: str | None = opt(None, "language of the text and speech (en, zh, ...); auto: from the text "
                               "(a text mixing English and Chinese: from the recording)",
                               metavar="LANG")
    model: str | None = opt(None, "speech model (catalog name or CTranslate2 Whisper folder)", metavar="NAME",
                            shown="whisper-base")
    beam_size: int = opt(1, "beam width of the recognition pass that finds anchors (1 = greedy, fastest)")
    max_window_s: float = opt(20.0, "longest stretch of audio aligned in one forced-alignment window",
                              metavar="SECONDS")
    min_anchor: int = opt(0, "consecutive words (characters for Chinese) that must match the recognition "
                             "to anchor the text; 0 = by language (2 words, 3 characters)", cli=False)
    unspoken_ratio: float = opt(0.35, "text whose stretch of audio holds less speech than this share of its "
                                      "expected length is reported as not said", cli=False)
    min_match: float = opt(0.1, "below this share of the text heard in the speech, the text is taken not to "
                                "belong to the audio (an error), unless most of the speech is found in the text", cli=False)
    recover: bool = opt(True, "align text left out by the first pass again between its aligned neighbours, "
                              "keeping the words the decoder is sure of there", cli=False)
    snap: bool = opt(True, "move word edges out of pauses (energy and VAD)", cli=False)
    shift_s: float = opt(0.08, "added to word edges inside speech: cross-attention DTW times words early "
                                "(tuned on the tune split: synthetic speech with known durations)",
                         cli=False)
    batch_size: int = opt(8, "windows (and recognition chunks) processed together")
    cpu_threads: int = opt(0, "CPU threads for the models (0: all cores)", cli=False)

    def __post_init__(self) -> None:
        # the recognition pass's bounds (asr TranscribeOptions), checked here so that a bad value is
        # one line before the model loads (qa5: --beam-size 100000 was "unexpected ValueError")
        if not 1 <= self.beam_size <= 100:
            raise ValueError(f"beam_size must be at least 1 and at most 100, not {self.beam_size}.")
        if not 5.0 <= self.max_window_s <= 29.0:
            raise ValueError("max_window_s must be between 5 and 29 seconds.")
        if not 1 <= self.batch_size <= 512:
            raise ValueError(f"batch_size must be at least 1 and at most 512, not {self.batch_size}.")
        if not 0.0 <= self.min_match < 1.0:
            raise ValueError("min_match must be between 0 and 1.")


@dataclass(frozen=True)
class AlignedWord:
    """A unit of the text (word; Chinese character) and when it was said."""

    text: str
    start_s: float
    end_s: float
    score: float  # 0-1: the recogniser's probability of these words here (forced decoding)
    offset: int = -1  # where ``text`` starts in the original text (-1: not from the text)

    def to_dict(self) -> dict:
        return {"text": self.text, "start_s": round(self.start_s, 3), "end_s": round(self.end_s, 3),
                "score": round(float(self.score), 3)}


@dataclass(frozen=True)
class Unaligned:
    """Text not said (kind "text": zero or short span where it would have been), or speech not in the text."""

    text: str
    start_s: float
    end_s: float
    kind: str  # "text" or "speech"
    offset: int = -1  # start in the original text (kind "text")

    def to_dict(self) -> dict:
        return {"text": self.text, "start_s": round(self.start_s, 3), "end_s": round(self.end_s, 3),
                "kind": self.kind}


@dataclass(frozen=True)
class Alignment:
    """The result for one recording and its text."""

    audio: str | None
    language: str
    words: tuple[AlignedWord, ...]
    unaligned: tuple[Unaligned, ...]
    duration_s: float
    text: str = ""  # the original text (for subtitles and clip texts; not in the JSON)

    def to_dict(self) -> dict:
        return {"audio": self.audio, "language": self.language,
                "words": [w.to_dict() for w in self.words],
                "unaligned": [u.to_dict() for u in self.unaligned],
                "duration_s": round(self.duration_s, 3)}
