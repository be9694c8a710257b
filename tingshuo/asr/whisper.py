"""Whisper on CTranslate2 (int8 on CPU), batched across chunks and files.

Speed comes from three things the plain faster-whisper loop does not do:
  * each chunk is encoded once, and its language is read off that same encoder output;
  * the encoder window is sized to the chunk (``window_frames``) instead of always 30 s,
    with a fall back to the full window whenever a decode looks wrong;
  * chunks from many files are encoded and decoded together in batches.
Tokenizer, log-mel front end and punctuation merging are faster-whisper's own.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import InputError
from ..registry import register
from ..types import Segment, Word
from ..util import FairLock
from .base import ChunkResult, TranscribeOptions
from .text import to_script

SAMPLE_RATE = 16000
HOP = 160
FULL_FRAMES = 3000  # 30 s of 10 ms frames: Whisper's training window
TIME_PRECISION = 0.02  # seconds per timestamp token
WINDOW_PAD_S = 2.0  # silence after the chunk inside a dynamic window
WINDOW_MIN_S = 15.0  # shortest dynamic window (shorter ones lose accuracy, measured on dev)
WINDOW_STEP_S = 5.0  # windows come in these steps so that chunks batch together
MAX_BATCH_FRAMES = 8 * FULL_FRAMES  # batch bound in encoder frames: peak memory stays near 1.1 GB
PIECE_SAMPLES = 60 * SAMPLE_RATE  # audio decoded under one hold of the model (others wait at most that)
UNSURE_LOGPROB = -0.5  # a decode from a short window below this is tried again on the full window
LID_CONFIDENT = 0.5  # below this language probability, the runner-up languages are decoded too
SEEK_MIN_S = 0.5  # a rest after an early stop shorter than this is not worth a decode
HOLE_MIN_S = 1.5  # a stretch between segments this long was skipped by the decoder
ZH_PROMPT = "以下是普通话的句子。"  # primes simplified characters and punctuation
PREPEND_PUNCT = "\"'“¿([{-"
APPEND_PUNCT = "\"'.。,，!！?？:：”)]}、"


CJK_LANGUAGES = ("zh", "yue", "ja", "ko")

# CTranslate2 seeds each worker thread's random generator once, from the process-wide seed, the first
# time that thread samples (src/random.cc; OpenNMT/CTranslate2#1757), so ``set_random_seed`` before a
# later call changes nothing. Sampled fall-backs therefore run on a model instance of their own, freshly
# loaded (new worker thread, new generator) and seeded under this lock, one chunk at a time.
_SEED_LOCK = threading.Lock()


def hotwords_for(language: str, hotwords: Sequence[str]) -> list[str]:
    """The hot words written in ``language``'s script: Han/kana/hangul ones for CJK, the rest otherwise."""
    cjk = language in CJK_LANGUAGES
    return [w.strip() for w in hotwords if w.strip() and any("\u2e80" <= ch <= "\ud7af" for ch in w) == cjk]


def window_frames(n_samples: int, full: bool = False) -> int:
    """Encoder frames for a chunk of ``n_samples``: the chunk plus ``WINDOW_PAD_S`` of silence,
    rounded up to ``WINDOW_STEP_S``, between ``WINDOW_MIN_S`` and 30 s."""
    if full:
        return FULL_FRAMES
    need_s = n_samples / SAMPLE_RATE + WINDOW_PAD_S
    window_s = min(30.0, max(WINDOW_MIN_S, math.ceil(need_s / WINDOW_STEP_S) * WINDOW_STEP_S))
    return int(window_s * 100)


def compression_ratio(text: str) -> float:
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


@functools.lru_cache(maxsize=1)
def _blas_controller():
    try:
        from threadpoolctl import ThreadpoolController

        return ThreadpoolController()
    except Exception:  # no threadpoolctl, or a BLAS it cannot drive: features as before
        return None


def one_blas_thread():
    """A context in which numpy's BLAS runs one thread.

    OpenBLAS sums the log-mel projection in a different order with 1 thread than with 2 or 16, and
    those last bits change some decodes: with the features always on one thread (it costs nothing at
    this size), a transcript is the same on any machine, under any OMP_NUM_THREADS (Ray sets it to
    the actor's CPUs), locally and on a cluster.
    """
    ctl = _blas_controller()
    return ctl.limit(limits=1, user_api="blas") if ctl is not None else contextlib.nullcontext()


@dataclass
class _Decode:
    """One decoding attempt for one chunk."""

    tokens: list[int]
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float
    temperature: float
    frames: int  # encoder window it was decoded from
    encoded: np.ndarray  # that window's encoder output, (positions, dim)
    language: str | None = None

    def failed(self, o: TranscribeOptions) -> bool:
        if self.is_silence(o):
            return False
        return self.loops(o) or self.avg_logprob < o.log_prob_threshold

    def loops(self, o: TranscribeOptions) -> bool:
        return self.compression_ratio > o.compression_ratio_threshold

    def is_silence(self, o: TranscribeOptions) -> bool:
        return self.no_speech_prob > o.no_speech_threshold and self.avg_logprob < o.log_prob_threshold


@register("asr", "whisper")
class WhisperEngine:
    """Whisper via CTranslate2. ``model_dir`` holds model.bin, config.json and tokenizer.json."""

    max_chunk_s = 30.0

    def __init__(self, model_dir: str | os.PathLike, *, compute_type: str = "int8",
                 cpu_threads: int = 0, name: str | None = None) -> None:
        import ctranslate2
        import tokenizers
        from faster_whisper.feature_extractor import FeatureExtractor

        model_dir = Path(model_dir)
        threads = cpu_threads or max(1, min(len(os.sched_getaffinity(0)), 8))
        self._model_args = (str(model_dir), dict(device="cpu", compute_type=compute_type, intra_threads=threads))
        self.model = self._load_model()
        self.hf_tokenizer = tokenizers.Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.multilingual = bool(self.model.is_multilingual)
        self.features = FeatureExtractor(feature_size=self.model.n_mels)
        self.name = name or model_dir.name
        self._tokenizers: dict[tuple[str, str], object] = {}
        # One batch at a time (CTranslate2 uses all threads anyway), handed out in arrival order: a
        # long align or transcription lets a short request through between two of its pieces.
        self._lock = FairLock()

    # ------------------------------------------------------------------ helpers
    def _load_model(self):
        import ctranslate2

        path, kw = self._model_args
        return ctranslate2.models.Whisper(path, **kw)

    def tokenizer(self, language: str, task: str):
        from faster_whisper.tokenizer import Tokenizer

        key = (language, task)
        if key not in self._tokenizers:
            self._tokenizers[key] = Tokenizer(self.hf_tokenizer, self.multilingual, task=task,
                                              language=language if self.multilingual else "en")
        return self._tokenizers[key]

    @property
    def languages(self) -> list[str]:
        from faster_whisper.tokenizer import _LANGUAGE_CODES

        return list(_LANGUAGE_CODES) if self.multilingual else ["en"]

    def check_language(self, language: str | None) -> str | None:
        """The code back if this model can take it; an ``InputError`` saying what to use otherwise."""
        return self._check_language(language)

    def _check_language(self, language: str | None) -> str | None:
        if language is None:
            return None
        if language not in self.languages:
            if not self.multilingual:
                raise InputError(f"Model {self.name} is English-only; it cannot transcribe '{language}'. "
                                 "Use --model whisper-base for other languages.")
            raise InputError(f"Unknown language code '{language}'; use a Whisper code such as en, zh, de, "
                             "ja, fr, or auto.")
        return language

    def _features(self, chunk: np.ndarray, frames: int) -> np.ndarray:
        n = frames * HOP
        padded = np.zeros(n, np.float32)
        padded[: min(n, chunk.size)] = chunk[:n]
        with one_blas_thread():
            feats = self.features(padded, padding=0)
        if feats.shape[1] < frames:
            feats = np.pad(feats, ((0, 0), (0, frames - feats.shape[1])), constant_values=feats.min())
        return feats[:, :frames]

    def _encode(self, chunks: list[np.ndarray], frames: int) -> np.ndarray:
        import ctranslate2

        feats = np.stack([self._features(c, frames) for c in chunks])
        out = self.model.encode(ctranslate2.StorageView.from_array(np.ascontiguousarray(feats)))
        return np.asarray(out)

    def _detect(self, encoded: np.ndarray) -> list[list[tuple[str, float]]]:
        """The three most likely languages of each encoded window, most likely first."""
        import ctranslate2

        results = self.model.detect_language(ctranslate2.StorageView.from_array(np.ascontiguousarray(encoded)))
        return [[(code[2:-2], float(p)) for code, p in r[:3]] for r in results]

    def _prompt(self, language: str, options: TranscribeOptions) -> list[int]:
        tok = self.tokenizer(language, options.task)
        text = options.initial_prompt
        if text is None and language == "zh" and options.chinese_script == "simplified" and options.task == "transcribe":
            text = ZH_PROMPT
        words = hotwords_for(language, options.hotwords)
        if words:  # vocabulary primer, as faster-whisper's `hotwords`: after the user's prompt
            text = ((text or "") + " " + ("、".join(words) + "。" if language in CJK_LANGUAGES else ", ".join(words) + ".")).strip()
        prompt: list[int] = []
        if text:
            prompt = [tok.sot_prev] + tok.encode(" " + text.strip())[-223:]
        return prompt + list(tok.sot_sequence)

    def _generate(self, encoded: np.ndarray, prompts: list[list[int]], options: TranscribeOptions,
                  temperature: float, frames: int, beam_size: int, model=None) -> list[_Decode]:
        """Decode a batch: beam search at temperature 0, else five samples on ``model`` (see below)."""
        import ctranslate2
        from faster_whisper.transcribe import get_suppressed_tokens

        tok = self.tokenizer("en", options.task)
        if temperature > 0:
            kw = dict(beam_size=1, num_hypotheses=5, sampling_topk=0, sampling_temperature=temperature)
        else:
            kw = dict(beam_size=beam_size)
        results = (model or self.model).generate(
            ctranslate2.StorageView.from_array(np.ascontiguousarray(encoded)), prompts,
            max_length=448, return_scores=True, return_no_speech_prob=True, suppress_blank=True,
            suppress_tokens=list(get_suppressed_tokens(tok, [-1])), max_initial_timestamp_index=50, **kw)
        out = []
        for k, r in enumerate(results):
            hypotheses = []
            for seq, score in zip(r.sequences_ids, r.scores):
                tokens = list(seq)
                avg = score * len(tokens) / (len(tokens) + 1)  # length_penalty 1, as Whisper does
                text = tok.decode([t for t in tokens if t < tok.eot])
                hypotheses.append(_Decode(tokens, float(avg), float(r.no_speech_prob),
                                          compression_ratio(text.strip()), temperature, frames, encoded[k]))
            # of the samples, the most probable one that passes the checks: the most probable sample is
            # often the loop again, and a good one further down was lost (speech that repeats a sentence)
            out.append(max(hypotheses, key=lambda d: (not d.failed(options), d.avg_logprob)))
        return out

    def _sample_fallbacks(self, idx: list[int], chunks, langs, best, options: TranscribeOptions) -> None:
        """Rising temperatures for each chunk in ``idx`` until a decode passes; the same on every call.

        Each chunk is sampled on its own, on a freshly loaded model whose generator starts from the seed,
        so its transcript depends on nothing but the chunk: not on earlier calls in this process (server,
        batch runs, Ray workers), nor on the chunks it was batched with. A load takes ~0.3 s; fall-backs
        are rare (chunks whose decode loops or is improbable even on the full window).
        """
        import ctranslate2

        temperatures = [t for t in options.temperatures[1:] if t > 0]
        for i in idx:
            if not temperatures or not best[i].failed(options):
                continue
            encoded = self._encode([chunks[i]], FULL_FRAMES)
            prompt = self._prompt(langs[i], options)
            sampler = self._load_model()
            try:
                for k, t in enumerate(temperatures):
                    # the new worker thread seeds its generator on its first sample, from this seed
                    with _SEED_LOCK if k == 0 else contextlib.nullcontext():
                        if k == 0:
                            ctranslate2.set_random_seed(int(temperatures[0] * 1000))
                        d = self._generate(encoded, [prompt], options, t, FULL_FRAMES, 1, model=sampler)[0]
                    d.language = langs[i]
                    if _better(d, best[i], options):
                        best[i] = d
                    if not best[i].failed(options):
                        break
            finally:
                del sampler

    # ------------------------------------------------------------------ the protocol
    def transcribe_batch(self, chunks: Sequence[np.ndarray], options: TranscribeOptions,
                         languages: Sequence[str | None] | None = None) -> list[ChunkResult]:
        """Decode each chunk; report the stretches the decoder left out as ``unconsumed``.

        Chunks hold speech only, so what a decode leaves uncovered is speech still to transcribe:
        the rest after an early stop (Whisper's "seek") and any long hole between segments.
        """
        n = len(chunks)
        if n == 0:
            return []
        langs = list(languages) if languages is not None else [options.language] * n
        langs = [self._check_language(lang) for lang in langs]
        if not self.multilingual:
            langs = ["en"] * n
        probs = [1.0] * n
        chunks = [np.asarray(c, np.float32) for c in chunks]
        decoded: list[tuple[list[dict], float]] = []
        for piece in _pieces([c.size for c in chunks], PIECE_SAMPLES):
            # the model is let go between pieces: a request that came meanwhile goes first (FairLock)
            with self._lock:
                sub_langs, sub_probs = [langs[i] for i in piece], [probs[i] for i in piece]
                decoded += self._decode_pieces([chunks[i] for i in piece], sub_langs, sub_probs, options)
            for k, i in enumerate(piece):
                langs[i], probs[i] = sub_langs[k], sub_probs[k]
        out = []
        for i, (segs, consumed_s) in enumerate(decoded):
            holes = _holes(segs, chunks[i].size / SAMPLE_RATE, consumed_s)
            out.append(ChunkResult(segments_from_results(segs, langs[i]), langs[i], probs[i], tuple(holes)))
        return out

    def _decode_pieces(self, chunks: list[np.ndarray], langs: list[str | None], probs: list[float],
                       options: TranscribeOptions) -> list[tuple[list[dict], float]]:
        """Decode each chunk (with fall-backs); fills ``langs``/``probs`` for unknown languages.

        Returns per chunk its segments and how many seconds of it the decode consumed.
        """
        n = len(chunks)
        best: list[_Decode | None] = [None] * n
        todo = list(range(n))
        beam = options.beam_size
        # 1. dynamic windows, beam search at temperature 0
        candidates: dict[int, list[tuple[str, float]]] = {}
        self._attempt(todo, chunks, langs, probs, best, options, full=options.full_window,
                      beam_size=beam, candidates=candidates)
        # An unsure language guess (short clips): decode in the runner-up languages too, keep the
        # most probable transcript.
        for rank in (1, 2):
            alt = [i for i, top in candidates.items() if len(top) > rank]
            for i in alt:
                langs[i] = candidates[i][rank][0]
            self._attempt(alt, chunks, langs, probs, best, options, full=False,
                          beam_size=beam, reuse=True)
            for i in alt:
                langs[i] = best[i].language
                probs[i] = dict(candidates[i])[langs[i]]
        # 2. failures and unsure decodes: the full 30 s window (Whisper's training window), then
        #    rising temperatures for what still fails
        retry = [i for i in todo if best[i].failed(options)
                 or (best[i].frames < FULL_FRAMES and not best[i].is_silence(options)
                     and best[i].avg_logprob < UNSURE_LOGPROB)]
        if retry and not options.full_window:
            self._attempt(retry, chunks, langs, probs, best, options, full=True, beam_size=beam)
            retry = [i for i in retry if best[i].failed(options)]
        self._sample_fallbacks(retry, chunks, langs, best, options)
        results = [self._segments(chunks[i], best[i], langs[i], options) for i in range(n)]
        if options.word_timestamps:
            self._add_words(results, chunks, best, langs, options)
        return [(results[i], self._consumed_s(chunks[i], best[i], options)) for i in range(n)]

    def _consumed_s(self, chunk: np.ndarray, d: _Decode, options: TranscribeOptions) -> float:
        """Whisper's seek rule: a decode that ends on a closed segment stops at its last timestamp."""
        duration = chunk.size / SAMPLE_RATE
        if d.is_silence(options):
            return duration
        tb = self.tokenizer("en", options.task).timestamp_begin
        toks = d.tokens
        if len(toks) >= 2 and toks[-1] >= tb and toks[-2] >= tb:
            return min(duration, (toks[-1] - tb) * TIME_PRECISION)
        return duration

    def _attempt(self, idx: list[int], chunks, langs, probs, best, options, *,
                 full: bool, beam_size: int, reuse: bool = False, prefer_new: bool = False,
                 candidates: dict | None = None) -> None:
        """Decode chunks ``idx`` once more (beam search at temperature 0; sampling is ``_sample_fallbacks``);
        keep each result that beats the best so far.

        ``reuse`` decodes again from the encoder output of the current best (same window);
        ``prefer_new`` keeps the new decode unless it fails where the old one passed.
        Languages detected with low confidence go to ``candidates`` (chunk -> top three).
        """
        by_window: dict[int, list[int]] = {}
        for i in idx:
            frames = best[i].frames if reuse else window_frames(chunks[i].size, full)
            by_window.setdefault(frames, []).append(i)
        for frames, group in sorted(by_window.items()):
            step = max(1, min(options.batch_size, MAX_BATCH_FRAMES // frames))  # bounds encoder memory
            for start in range(0, len(group), step):
                part = group[start:start + step]
                if reuse:
                    encoded = np.stack([best[i].encoded for i in part])
                else:
                    encoded = self._encode([chunks[i] for i in part], frames)
                unknown = [k for k, i in enumerate(part) if langs[i] is None]
                if unknown:
                    for k, top in zip(unknown, self._detect(encoded[unknown])):
                        i = part[k]
                        langs[i], probs[i] = top[0]
                        if top[0][1] < LID_CONFIDENT and candidates is not None:
                            candidates[i] = top
                by_prompt: dict[tuple[int, ...], list[int]] = {}
                for k, i in enumerate(part):
                    by_prompt.setdefault(tuple(self._prompt(langs[i], options)), []).append(k)
                for prompt, ks in by_prompt.items():
                    decoded = self._generate(encoded[ks], [list(prompt)] * len(ks), options, 0.0,
                                             frames, beam_size)
                    for k, d in zip(ks, decoded):
                        i = part[k]
                        d.language = langs[i]
                        if best[i] is None or _better(d, best[i], options, prefer_new=prefer_new):
                            best[i] = d

    def _segments(self, chunk: np.ndarray, d: _Decode, language: str, options) -> list[dict]:
        """Split a decode at its timestamp tokens into segments (chunk-relative times)."""
        if d.is_silence(options):
            return []
        tok = self.tokenizer(language, options.task)
        duration = chunk.size / SAMPLE_RATE
        segs: list[dict] = []
        start: float | None = None
        current: list[int] = []
        for t in d.tokens:
            if t >= tok.timestamp_begin:
                ts = (t - tok.timestamp_begin) * TIME_PRECISION
                if current:
                    segs.append({"start": start or 0.0, "end": ts, "tokens": current})
                    current, start = [], None
                else:
                    start = ts
            elif t < tok.eot:
                current.append(t)
        if current:
            segs.append({"start": start or (segs[-1]["end"] if segs else 0.0), "end": duration, "tokens": current})
        looped = d.loops(options)  # every fall-back failed too
        out = []
        for s in segs:
            if looped:
                s["tokens"] = collapse_repeats(s["tokens"])
                if out and s["tokens"] == out[-1]["tokens"]:
                    continue  # the same sentence again and again: keep one
            text = to_script(tok.decode(s["tokens"]).strip(), language, options.chinese_script)
            if not text or all(not ch.isalnum() for ch in text):
                continue
            lo = min(max(0.0, s["start"]), duration)
            hi = min(max(lo, s["end"]), duration)
            out.append({"start": lo, "end": hi, "text": text, "tokens": s["tokens"], "decode": d})
        return out

    def _add_words(self, results, chunks, best, langs, options) -> None:
        import ctranslate2
        from faster_whisper.transcribe import merge_punctuations

        groups: dict[tuple[int, str], list[int]] = {}
        for i, segs in enumerate(results):
            if segs:
                groups.setdefault((best[i].frames, langs[i]), []).append(i)
        for (frames, lang), idx in groups.items():
            tok = self.tokenizer(lang, options.task)
            text_tokens = [[t for s in results[i] for t in s["tokens"]] for i in idx]
            encoded = np.stack([best[i].encoded for i in idx])
            num_frames = [min(frames, chunks[i].size // HOP) for i in idx]
            aligned = self.model.align(ctranslate2.StorageView.from_array(np.ascontiguousarray(encoded)),
                                       list(tok.sot_sequence), text_tokens, num_frames, median_filter_width=7)
            for i, tokens, al in zip(idx, text_tokens, aligned):
                words = _words_from_alignment(tok, tokens, al)
                merge_punctuations(words, PREPEND_PUNCT, APPEND_PUNCT)
                words = [w for w in words if w["word"]]
                duration = chunks[i].size / SAMPLE_RATE
                k = 0
                for s in results[i]:
                    n_tok, mine = 0, []
                    while k < len(words) and n_tok < len(s["tokens"]):
                        mine.append(words[k])
                        n_tok += len(words[k]["tokens"])
                        k += 1
                    s["words"] = [{"start": min(w["start"], duration), "end": min(w["end"], duration),
                                   "word": to_script(w["word"].strip(), lang, options.chinese_script),
                                   "probability": w["probability"]} for w in mine]
                    if s["words"]:
                        s["start"] = s["words"][0]["start"]
                        s["end"] = max(s["words"][-1]["end"], s["start"])


def collapse_repeats(tokens: list[int], max_period: int = 24, keep: int = 1) -> list[int]:
    """Cut a run of the same token n-gram repeated three or more times down to ``keep`` copies.

    Whisper's failure mode on noise or a wrong language is a loop ("to the video to the video
    ..."); when every fall-back still loops, this keeps the transcript readable.

    >>> collapse_repeats([1, 2, 3, 2, 3, 2, 3, 2, 3, 4])
    [1, 2, 3, 4]
    """
    out = list(tokens)
    i = 0
    while i < len(out):
        for n in range(1, min(max_period, (len(out) - i) // 3) + 1):
            gram = out[i:i + n]
            reps = 1
            while out[i + reps * n:i + (reps + 1) * n] == gram:
                reps += 1
            if reps >= 3:
                del out[i + keep * n:i + reps * n]
                break
        i += 1
    return out


def _pieces(sizes: Sequence[int], limit: int) -> list[list[int]]:
    """Consecutive indices of ``sizes`` in groups holding at most ``limit`` samples (one item at least).

    >>> _pieces([30, 30, 30, 5, 5, 5], 60)
    [[0, 1], [2, 3, 4, 5]]
    """
    out: list[list[int]] = []
    total = 0
    for i, size in enumerate(sizes):
        if out and total + size <= limit:
            out[-1].append(i)
            total += size
        else:
            out.append([i])
            total = size
    return out


def _holes(segs: list[dict], duration: float, consumed_s: float) -> list[tuple[float, float]]:
    """Stretches of a chunk (seconds) that its decode left uncovered.

    The rest after ``consumed_s`` counts from ``SEEK_MIN_S``; a hole between segments, or after
    the last when the decode claimed the whole chunk, from ``HOLE_MIN_S``. A decode with no
    segments leaves no holes (it was silence or failed).
    """
    if not segs:
        return []
    spans = sorted((s["start"], s["end"]) for s in segs)
    holes, covered = [], 0.0
    for a, b in spans:
        if a - covered >= HOLE_MIN_S:
            holes.append((covered, a))
        covered = max(covered, b)
    if consumed_s < duration - 1e-3:
        covered = min(covered, consumed_s)
        if duration - covered >= SEEK_MIN_S:
            holes.append((covered, duration))
    elif duration - covered >= HOLE_MIN_S:
        holes.append((covered, duration))
    return holes


def _better(new: _Decode, old: _Decode, o: TranscribeOptions, prefer_new: bool = False) -> bool:
    """Prefer a decode that passes the checks; then the newer (``prefer_new``) or the more probable.

    Between two failed decodes, a sample that loops never replaces what is kept (a loop feeds itself,
    so its probability says nothing: the 197-word loop of a 2.5-sentence chunk outscored the beam), and
    one that fails only on probability beats a loop (faster-whisper keeps those first too).
    """
    if new.failed(o) != old.failed(o):
        return not new.failed(o)
    if new.failed(o) and new.temperature > 0:
        if new.loops(o) != old.loops(o):
            return not new.loops(o)
        if new.loops(o):
            return False
    return prefer_new or new.avg_logprob > old.avg_logprob


def _words_from_alignment(tok, tokens: list[int], al) -> list[dict]:
    words, word_tokens = tok.split_to_word_tokens(tokens + [tok.eot])
    if len(word_tokens) <= 1:
        return []
    text_idx = np.array([p[0] for p in al.alignments])
    time_idx = np.array([p[1] for p in al.alignments])
    bounds = np.pad(np.cumsum([len(t) for t in word_tokens[:-1]]), (1, 0))
    jumps = np.pad(np.diff(text_idx), (1, 0), constant_values=1).astype(bool)
    jump_times = time_idx[jumps] * TIME_PRECISION
    if jump_times.size < bounds[-1] + 1:
        return []
    starts, ends = jump_times[bounds[:-1]], jump_times[bounds[1:]]
    probs = al.text_token_probs
    return [{"word": w, "tokens": t, "start": float(s), "end": float(e),
             "probability": float(np.mean(probs[i:j])) if j > i else 0.0}
            for w, t, s, e, i, j in zip(words, word_tokens, starts, ends, bounds[:-1], bounds[1:])]


def segments_from_results(raw: list[dict], language: str | None) -> tuple[Segment, ...]:
    """Engine-internal dicts to public ``Segment`` objects."""
    out = []
    for s in raw:
        d: _Decode = s["decode"]
        words = tuple(Word(w["start"], w["end"], w["word"], w["probability"]) for w in s.get("words", ()))
        out.append(Segment(start_s=s["start"], end_s=s["end"], text=s["text"], words=words,
                           language=language, avg_logprob=d.avg_logprob, no_speech_prob=d.no_speech_prob,
                           compression_ratio=d.compression_ratio, temperature=d.temperature))
    return tuple(out)
