"""Forced alignment of text to speech, and cutting long recordings into training clips.

    >>> from tingshuo.align import Aligner
    >>> result = Aligner().align("chapter.mp3", text)        # doctest: +SKIP
    >>> result.to_dict()["words"][0]                          # doctest: +SKIP
    {'text': 'Chapter', 'start_s': 1.02, 'end_s': 1.41, 'score': 0.97}

Heavy modules load on first use of a name, so importing this package is cheap.
"""

from __future__ import annotations

from typing import Any

from .base import AlignedWord, Alignment, AlignOptions, Unaligned

__all__ = ["AlignOptions", "AlignedWord", "Aligner", "Alignment", "Unaligned", "align"]


def __getattr__(name: str) -> Any:
    if name == "Aligner":
        from .aligner import Aligner

        return Aligner
    raise AttributeError(name)


def align(source, text: str, **options: Any) -> Alignment:
    """Align ``text`` with the speech in ``source`` (a path, bytes, or 16 kHz array); ``options`` are
    ``AlignOptions`` fields (language, model, beam_size, ...)."""
    from ..options import from_mapping
    from .aligner import Aligner

    return Aligner(from_mapping(AlignOptions, options)).align(source, text)
