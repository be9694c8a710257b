"""tingshuo (听说): offline speech toolkit — transcribe, speak, converse, inspect, search, train.

    >>> import tingshuo
    >>> t = tingshuo.transcribe("talk.wav", language="en")     # doctest: +SKIP
    >>> t.text, t.segments[0].start_s                           # doctest: +SKIP

Heavy libraries load on first use, so ``import tingshuo`` is quick and has no side effects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import (AudioDecodeError, InputError, ManifestError, ModelNotInstalled, TingshuoError,
                     UnknownNameError)
from .types import Audio, AudioChunk, Segment, Transcript, Word

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .audio.io import Source


def transcribe(source: "Source", *, model: str | None = None, **options: Any) -> Transcript:
    """Transcribe a file path, bytes, file object or 16 kHz float array.

    ``options`` are ``TranscribeOptions`` fields: language, task, beam_size, word_timestamps,
    initial_prompt, chinese_script, vad, batch_size.
    """
    from .asr.base import TranscribeOptions
    from .asr.pipeline import Transcriber
    from .options import from_mapping

    opts = from_mapping(TranscribeOptions, options)
    return Transcriber(model).transcribe(source, opts)


def speak(text: str, voice: str | None = None, **options: Any) -> Audio:
    """Speak ``text`` (English, Mandarin or mixed) into one ``Audio`` at the voice's rate.

    ``voice`` None picks en-joe / zh-baker per script; ``options`` are ``SpeakOptions`` fields:
    rate, sample_rate, sentence_pause_s, normalize_text. For audio sentence by sentence use
    ``tingshuo.tts.synthesize_stream``.
    """
    from .tts.stream import speak as _speak

    return _speak(text, voice, options)


def load_audio(source: "Source", sample_rate: int | None = 16000) -> Audio:
    """Decode any audio or video file to mono float32 at ``sample_rate`` (None keeps the file's rate)."""
    from .audio.io import load_audio as _load

    return _load(source, sample_rate)


def load(kind: str, name: str, **config: Any) -> Any:
    """Build a registered engine by kind and name, e.g. ``load("vad", "silero")``."""
    from .registry import create

    return create(kind, name, **config)


def available(kind: str) -> list[str]:
    """Names of the engines registered for ``kind`` (asr, tts, vad, brain, check, ...)."""
    from .registry import available as _available

    return _available(kind)


__all__ = [
    "Audio", "AudioChunk", "AudioDecodeError", "InputError", "ManifestError", "ModelNotInstalled", "Segment",
    "TingshuoError", "Transcript", "UnknownNameError", "Word", "available", "load", "load_audio", "speak", "transcribe",
]
