"""espeak-ng through ctypes: IPA phonemes for Piper voices, and a formant voice of its own.

libespeak-ng (GPL-3.0-or-later) comes from the ``espeakng-loader`` wheel and is loaded
dynamically, only when a voice needs it; tingshuo itself links nothing GPL. The library keeps
global state, so every call holds one process-wide lock.

    >>> phonemize("Hello world.", "en-us")        # doctest: +SKIP
    'həlˈoʊ wˈɜːld.'
"""

from __future__ import annotations

import ctypes
import threading
from typing import Iterator

import numpy as np

from ..errors import EngineError, ModelNotInstalled
from ..registry import register
from ..types import AudioChunk

_LOCK = threading.RLock()
_LIB = None
_RATE = 0

AUDIO_OUTPUT_SYNCHRONOUS = 2
ESPEAK_CHARS_UTF8 = 1
ESPEAK_PHONEMES_IPA = 0x02
ESPEAK_RATE = 1
EVENT_LIST_TERMINATED = 0
EVENT_WORD = 1
WORDS_PER_MINUTE = 175  # espeak-ng's own default speed
INSTALL_HINT = "pip install 'tingshuo[models]' (or: pip install espeakng-loader)"


class _Event(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint), ("text_position", ctypes.c_int),
                ("length", ctypes.c_int), ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", ctypes.c_char * 8)]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))
_sink: list = []  # (samples, events) gathered by the callback during one espeak_Synth call


def _on_audio(wav, n_samples, events) -> int:
    if n_samples > 0:
        _sink.append(("audio", np.ctypeslib.as_array(wav, shape=(n_samples,)).copy()))
    i = 0
    while events and events[i].type != EVENT_LIST_TERMINATED:
        ev = events[i]
        if ev.type == EVENT_WORD:
            _sink.append(("word", (ev.text_position, ev.length, ev.audio_position)))
        i += 1
    return 0


_callback_ref = _CALLBACK(_on_audio)  # kept alive for the life of the process


def library():
    """The initialised libespeak-ng (loaded once); raises ModelNotInstalled without espeakng-loader."""
    global _LIB, _RATE
    with _LOCK:
        if _LIB is not None:
            return _LIB
        try:
            import espeakng_loader
        except ImportError:
            raise ModelNotInstalled(f"espeak-ng is not installed; install it with: {INSTALL_HINT}.") from None
        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
                                     ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        data = espeakng_loader.get_data_path().encode()
        rate = lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, data, 0)
        if rate <= 0:
            raise EngineError(f"espeak-ng failed to start with its data at {data.decode()}; "
                              "reinstall it with: pip install --force-reinstall espeakng-loader.")
        lib.espeak_SetSynthCallback(_callback_ref)
        _LIB, _RATE = lib, rate
        return lib


def _set_voice(lib, voice: str) -> None:
    if lib.espeak_SetVoiceByName(voice.encode()) != 0:
        raise EngineError(f"espeak-ng has no voice '{voice}'.")


def phonemize(text: str, voice: str = "en-us") -> str:
    """IPA phonemes of ``text`` (one clause or sentence, no trailing punctuation needed).

    espeak-ng returns one clause per call; clauses are joined with a space.
    """
    lib = library()
    raw = text.encode("utf-8") + b"\0"
    buf = ctypes.create_string_buffer(raw, len(raw))
    ptr = ctypes.c_void_p(ctypes.addressof(buf))
    out = []
    with _LOCK:
        _set_voice(lib, voice)
        while ptr.value:
            ph = lib.espeak_TextToPhonemes(ctypes.byref(ptr), ESPEAK_CHARS_UTF8, ESPEAK_PHONEMES_IPA)
            if ph:
                out.append(ph.decode("utf-8", "replace").strip())
    return " ".join(p for p in out if p)


def synthesize_espeak(text: str, voice: str, rate: float = 1.0) -> tuple[np.ndarray, int, list[tuple[float, float, str]]]:
    """espeak-ng's own formant voice: (float32 samples, sample rate, [(start_s, end_s, word)])."""
    lib = library()
    data = text.encode("utf-8")
    with _LOCK:
        _set_voice(lib, voice)
        lib.espeak_SetParameter(ESPEAK_RATE, int(round(WORDS_PER_MINUTE * rate)), 0)
        _sink.clear()
        buf = ctypes.create_string_buffer(data + b"\0")
        err = lib.espeak_Synth(buf, len(data) + 1, 0, 1, 0, ESPEAK_CHARS_UTF8, None, None)
        items = list(_sink)
        _sink.clear()
    if err != 0:
        raise EngineError(f"espeak-ng failed (code {err}) on the text {text[:40]!r}.")
    pieces = [x for kind, x in items if kind == "audio"]
    samples = (np.concatenate(pieces).astype(np.float32) / 32768.0) if pieces else np.zeros(0, np.float32)
    marks = [x for kind, x in items if kind == "word"]
    words = []
    # text_position counts characters from 1; audio_position is in ms.
    for k, (pos, length, at_ms) in enumerate(marks):
        end_ms = marks[k + 1][2] if k + 1 < len(marks) else samples.size * 1000 / _RATE
        word = _char_slice(text, pos - 1, length)
        if word.strip():
            words.append((at_ms / 1000.0, max(at_ms, end_ms) / 1000.0, word.strip()))
    return samples, _RATE, words


def _char_slice(text: str, start: int, length: int) -> str:
    return text[max(0, start):max(0, start) + max(0, length)]


@register("tts", "espeak")
class EspeakEngine:
    """espeak-ng's formant synthesiser: robotic but small and many-languaged (the peer and last resort)."""

    name = "espeak"

    def __init__(self, voice: str = "en-us", **_: object) -> None:
        library()
        self.voice = voice
        self.sample_rate = _RATE

    def synthesize(self, text: str, voice=None, options=None) -> Iterator[AudioChunk]:
        rate = getattr(options, "rate", 1.0) if options is not None else 1.0
        samples, sr, words = synthesize_espeak(text, self.voice, rate)
        yield AudioChunk(samples, sr, text=text, is_last=True, meta={"words": words})
