"""Text in, audio out, sentence by sentence: the one synthesis pipeline every caller shares.

    sentences (lazy)  ->  normalise  ->  runs of one script  ->  voice per run  ->  engine
        ->  resample to the output rate  ->  fade the edges, join with short gaps  ->  AudioChunk

Memory is bounded by one sentence of audio: text is read and cut lazily, and each sentence's
audio is yielded before the next is made. Chunk times (``start_s``, word times in
``meta["words"]``) are measured from the start of the whole utterance.

    >>> for chunk in synthesize_stream("Hello there. 你好！"):     # doctest: +SKIP
    ...     play(chunk.samples, chunk.sample_rate)
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping

import numpy as np

from ..audio.resample import resample
from ..errors import InputError
from ..types import Audio, AudioChunk, Word
from .base import SpeakOptions, VoiceInfo
from .normalize import normalize
from .text import dominant_language, is_speakable, sayable_part, script_runs, split_sentences
from .voices import default_names, engine_for, get_voice, resolve_voice

log = logging.getLogger("tingshuo.tts")

FADE_S = 0.005  # raised-cosine ramp at every joint: no clicks where audio starts or stops
RUN_GAP_S = 0.06  # pause where one sentence switches voice (Chinese <-> English)
PEAK = 0.89  # each run is scaled to this peak (-1 dBFS) so two voices sound equally loud
TAIL_CHUNK_S = 0.05  # a last sentence with nothing to say still ends the stream with this much silence


@dataclass(frozen=True)
class SentenceTiming:
    """Which text is spoken when: one sentence, and its words where the engine gives durations."""

    text: str
    start_s: float
    end_s: float
    voices: tuple[str, ...]
    words: tuple[Word, ...] = ()

    def to_dict(self) -> dict:
        d = {"text": self.text, "start": round(self.start_s, 3), "end": round(self.end_s, 3),
             "voices": list(self.voices)}
        if self.words:
            d["words"] = [{"start": round(w.start_s, 3), "end": round(w.end_s, 3), "word": w.text}
                          for w in self.words]
        return d


def as_options(options: SpeakOptions | Mapping[str, Any] | None, **overrides: Any) -> SpeakOptions:
    from ..options import from_mapping

    if options is None or isinstance(options, Mapping):
        return from_mapping(SpeakOptions, {**dict(options or {}), **overrides})
    return from_mapping(SpeakOptions, overrides, base=options) if overrides else options


def synthesize_stream(text: str | Iterable[str], voice: str | None = None,
                      options: SpeakOptions | Mapping[str, Any] | None = None, *,
                      on_skip: Callable[[str, list[tuple[str, str]]], None] | None = None) -> Iterator[AudioChunk]:
    """Yield one ``AudioChunk`` per sentence of ``text`` (a string or an iterable of string pieces).

    ``voice`` None picks the default voice for each run of Chinese or English; a named voice
    speaks its own language and the defaults speak the rest. Every chunk has the same sample
    rate (``options.sample_rate`` or the first sentence's voice's). ``chunk.text`` is the
    sentence as written, ``chunk.start_s`` its start in the utterance, and the last chunk has
    ``is_last``; a sentence's silence follows it inside its chunk.
    Text no voice can say (other scripts, emoji, unknown symbols) is left out, and
    ``on_skip(sentence, [(skipped text, script)])`` hears of each sentence that lost some (default:
    a warning on the ``tingshuo.tts`` logger).
    Raises ``InputError`` for empty text or text with nothing to say, ``UnknownNameError`` for
    an unknown voice (listing the valid ones).
    """
    opts = as_options(options)
    chosen = get_voice(voice) if voice else None
    if isinstance(text, str) and not text.strip():
        raise InputError("The text to speak is empty; give at least one word.")
    skipped: list[tuple[str, str]] = []
    held: list[tuple[str, list]] = []  # reports wait for the first sentence that can be said

    def report(sentence: str, pieces: list[tuple[str, str]]) -> None:
        if len(skipped) < 8:
            skipped.extend(pieces[:8])
        if not started:
            held.append((sentence, pieces))
        else:
            (on_skip or _log_skip)(sentence, pieces)

    started = False
    plans = _plans(split_sentences(text), chosen, opts, report)
    current = next(plans, None)
    if current is None:  # one error says it all; no warnings before it
        if skipped:
            what = " and ".join(dict.fromkeys(_kind(script) for _, script in skipped))
            raise InputError(f"The text has nothing to speak that the voices can say ({_quote(skipped[0][0])} is "
                             f"{what}); they speak English and Mandarin Chinese.")
        raise InputError("The text has nothing to speak (no letters, digits or Chinese characters); "
                         "give words to say.")
    started = True
    for sentence, pieces in held:
        (on_skip or _log_skip)(sentence, pieces)
    out_rate = opts.sample_rate or current[1][0][0].sample_rate
    position_s = 0.0
    while current is not None:
        following = next(plans, None)
        chunk = _speak_sentence(current, out_rate, opts, position_s, is_last=following is None)
        if chunk is not None:
            position_s += chunk.duration_s
            yield chunk
        elif following is None:
            yield AudioChunk(np.zeros(int(TAIL_CHUNK_S * out_rate), np.float32), out_rate, text="",
                             start_s=position_s, is_last=True, meta={"speech_s": 0.0, "voices": [], "words": []})
        current = following


def _log_skip(sentence: str, pieces: list[tuple[str, str]]) -> None:
    log.warning("left out what the voices cannot say: %s", describe_skipped(pieces))


def describe_skipped(pieces: list[tuple[str, str]]) -> str:
    """'"Привет" (Cyrillic), "😀" (symbols)' for a warning line."""
    return ", ".join(f"{_quote(text)} ({script})" for text, script in pieces)


def _kind(script: str) -> str:
    return script if script in ("symbols", "numerals", "unknown") else f"in {script} script"


def _quote(text: str, limit: int = 40) -> str:
    return '"' + (text if len(text) <= limit else text[:limit - 1] + "…") + '"'


def _plans(sentences: Iterable[str], chosen: VoiceInfo | None, opts: SpeakOptions, report):
    """(sentence as written, [(voice, text to speak)]) for each sentence with something to say."""
    defaults = default_names()
    for sentence in sentences:
        spoken = normalize(sentence) if opts.normalize_text else sentence
        spoken, skipped = sayable_part(spoken)
        if skipped:
            report(sentence, skipped)
        if not is_speakable(spoken):
            continue
        runs = []
        for lang, piece in script_runs(spoken):
            if chosen is not None and (lang in chosen.languages or lang not in defaults):
                v = resolve_voice(chosen.name)
            else:
                v = resolve_voice(defaults.get(lang) or defaults[dominant_language(spoken)])
            runs.append((v, piece))
        if runs:
            yield sentence, runs


def _speak_sentence(plan, out_rate: int, opts: SpeakOptions, start_s: float, is_last: bool) -> AudioChunk | None:
    sentence, runs = plan
    pieces: list[np.ndarray] = []
    words: list[Word] = []
    offset = 0
    gap = np.zeros(int(RUN_GAP_S * out_rate), np.float32)
    used = []
    for voice, text in runs:
        audio, run_words = _speak_run(voice, text, out_rate, opts)
        if audio.size == 0:
            continue
        if pieces:
            pieces.append(gap)
            offset += gap.size
        base_s = start_s + offset / out_rate
        words += [Word(base_s + a, base_s + b, w) for a, b, w in run_words]
        pieces.append(audio)
        offset += audio.size
        if voice.name not in used:
            used.append(voice.name)
    if not pieces:
        return None
    speech_s = offset / out_rate
    if not is_last and opts.sentence_pause_s > 0:
        pieces.append(np.zeros(int(opts.sentence_pause_s * out_rate), np.float32))
    samples = np.concatenate(pieces)
    return AudioChunk(samples, out_rate, text=sentence, start_s=start_s, is_last=is_last,
                      meta={"speech_s": speech_s, "voices": used, "words": words})


def _speak_run(voice: VoiceInfo, text: str, out_rate: int, opts: SpeakOptions):
    engine = engine_for(voice)
    parts, words, n = [], [], 0
    for chunk in engine.synthesize(text, voice, opts):
        words += [(n / chunk.sample_rate + a, n / chunk.sample_rate + b, w) for a, b, w in chunk.meta.get("words", ())]
        parts.append(chunk.samples)
        n += chunk.samples.size
        rate = chunk.sample_rate
    if not parts or n == 0:
        return np.zeros(0, np.float32), []
    audio = np.concatenate(parts).astype(np.float32, copy=False)
    audio = resample(audio, rate, out_rate)
    audio = audio - float(np.mean(audio))  # a DC offset would click at the joints
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak > 1e-4:
        audio = audio * (PEAK / peak)
    fade(audio, int(FADE_S * out_rate))
    return audio, words


def fade(samples: np.ndarray, n: int) -> np.ndarray:
    """Raised-cosine fade-in and fade-out of ``n`` samples, in place."""
    n = min(n, samples.size // 2)
    if n > 0:
        ramp = (0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, n, dtype=np.float32))).astype(np.float32)
        samples[:n] *= ramp
        samples[-n:] *= ramp[::-1]
    return samples


def speak(text: str | Iterable[str], voice: str | None = None,
          options: SpeakOptions | Mapping[str, Any] | None = None, **overrides: Any) -> Audio:
    """The whole utterance as one ``Audio`` (mono float32 at the output rate)."""
    opts = as_options(options, **overrides)
    chunks = list(synthesize_stream(text, voice, opts))
    return Audio(np.concatenate([c.samples for c in chunks]), chunks[0].sample_rate)


def timings(chunks: Iterable[AudioChunk]) -> Iterator[SentenceTiming]:
    """Sentence (and word) timings of streamed chunks, for a sidecar file or subtitles."""
    for c in chunks:
        if not c.text:
            continue
        yield SentenceTiming(text=c.text, start_s=c.start_s, end_s=c.start_s + c.meta.get("speech_s", c.duration_s),
                             voices=tuple(c.meta.get("voices", ())), words=tuple(c.meta.get("words", ())))


def replace_options(opts: SpeakOptions, **changes: Any) -> SpeakOptions:
    return dataclasses.replace(opts, **changes)
