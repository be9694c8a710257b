"""Speech-data quality inspection (语音质检): signal, transcript and duplicate checks, graded.

    >>> from tingshuo.quality import Clip, InspectOptions, inspect_clips
    >>> res = inspect_clips([Clip("a.wav", text="hello", lang="en")], InspectOptions(dnsmos=False))  # doctest: +SKIP
    >>> res[0].grade, [f.message for f in res[0].findings]                                           # doctest: +SKIP

Checks are registered (``tingshuo.available("check")``); thresholds come from profiles
(``asr-training``, ``tts-training`` or a YAML file; see docs/inspect.md).
"""

from __future__ import annotations

from .base import Clip, ClipResult, Finding, InspectOptions


def inspect_clips(clips, options: InspectOptions | None = None, **kw) -> list[ClipResult]:
    from .runner import inspect_clips as _run

    return _run(clips, options, **kw)


__all__ = ["Clip", "ClipResult", "Finding", "InspectOptions", "inspect_clips"]
