"""Files in, transcripts out: decode, cut at pauses, batch across files, put times back.

    >>> t = Transcriber()                                     # default model, whisper-base
    >>> t.transcribe("talk.mp3").text                          # doctest: +SKIP
    >>> for i, result in t.transcribe_many(paths): ...         # doctest: +SKIP

A background thread decodes audio and runs the VAD a few chunks ahead of the recogniser, so it
never waits on disk or FFmpeg; chunks from many files share each batch. Memory is bounded by
the chunks in flight, not by file length.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import queue
import threading
from collections import Counter, deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from .. import models
from ..audio.io import Source, iter_audio
from ..audio.vad import SileroVAD, VADOptions
from ..errors import InputError, TingshuoError
from ..registry import create
from ..types import Audio, Transcript
from .base import ASREngine, ChunkResult, TranscribeOptions
from .chunking import SpeechRegions, pack

VAD_OPTIONS = VADOptions(min_silence_s=0.3, speech_pad_s=0.3)  # fine regions pack chunks tightly
QUEUE_PIECES = 128  # speech regions decoded ahead of the recogniser
STICKY_LANGUAGE_PROB = 0.8  # a file's first chunk detected this surely fixes its language
MAX_RETRIES = 2  # times a stretch the recogniser left out is packed again


@dataclass
class _FileState:
    source: str | None
    language: str | None  # given by the caller, or None to detect
    detected: str | None = None  # fixed after a confident detection on the first chunk
    queue: deque = dataclasses.field(default_factory=deque)  # Pieces not yet packed
    queued: int = 0  # samples in queue
    closed: bool = False  # the whole file has been decoded
    duration_s: float = 0.0
    results: list = dataclasses.field(default_factory=list)  # (ChunkPlan, ChunkResult)
    holes: list = dataclasses.field(default_factory=list)  # stretches left out: lists of Pieces

    def chunks_ready(self, limit: int) -> int:
        """Chunks that can be packed now: holes, full chunks, and the rest once the file is decoded."""
        return len(self.holes) + (-(-self.queued // limit) if self.closed else self.queued // limit)


@functools.lru_cache(maxsize=4)
def load_engine(model: str | None = None, cpu_threads: int = 0) -> ASREngine:
    """The ASR engine for a catalog name, an alias, or a model directory (cached)."""
    if isinstance(cpu_threads, bool) or not isinstance(cpu_threads, int) or not 0 <= cpu_threads <= 1024:
        raise InputError(f"cpu_threads must be 0 (all cores) or a number of threads up to 1024, not {cpu_threads!r}.")
    if model and (os.sep in model or Path(model).is_dir()):
        path = Path(model)
        if not path.is_dir():
            raise InputError(f"Model directory {model} does not exist; give a catalog name "
                             f"({', '.join(models.names('asr'))}) or a directory.")
        if (path / "model.bin").exists() and (path / "tokenizer.json").exists():
            return create("asr", "whisper", model_dir=path, cpu_threads=cpu_threads)
        if (path / "tingshuo-asr.json").exists() or (path / "export").is_dir():
            return create("asr", "onnx-ctc", model_dir=path, cpu_threads=cpu_threads)
        raise InputError(f"{model} is not a model directory: it has neither a CTranslate2 Whisper "
                         "model (model.bin, tokenizer.json) nor a tingshuo ONNX export (tingshuo-asr.json).")
    spec = models.get(model) if model else models.default("asr")
    if spec.kind != "asr":
        raise InputError(f"Model '{spec.name}' is a {spec.kind} model, not a speech recogniser.")
    return create("asr", spec.engine, model_dir=models.resolve(spec.name), cpu_threads=cpu_threads,
                  name=spec.name)


class Transcriber:
    """Speech recognition over files, buffers and arrays, with VAD chunking and batching."""

    def __init__(self, model: str | None = None, options: TranscribeOptions | None = None, *,
                 cpu_threads: int = 0) -> None:
        self.options = options or TranscribeOptions()
        self.engine = load_engine(model, cpu_threads)
        self.model_name = getattr(self.engine, "name", model)
        self._vad: SileroVAD | None = None

    def regions(self, options: TranscribeOptions) -> SpeechRegions:
        """A fresh region finder for one input: speech regions (VAD), or everything when VAD is off."""
        if options.vad and self._vad is None:
            self._vad = SileroVAD()
        return SpeechRegions(self._vad if options.vad else None, VAD_OPTIONS, window_s=self.chunk_s)

    @property
    def chunk_s(self) -> float:
        return self.engine.max_chunk_s - 0.5

    # ------------------------------------------------------------------ single input
    def transcribe(self, source: Source, options: TranscribeOptions | None = None, **overrides) -> Transcript:
        """Transcribe one file, buffer or 16 kHz array."""
        opts = options or self.options
        if overrides:
            opts = dataclasses.replace(opts, **overrides)
        for _, result in self.transcribe_many([source], opts):
            if isinstance(result, Exception):
                raise result
            return result
        raise AssertionError("transcribe_many yields one result per source")

    # ------------------------------------------------------------------ many inputs
    def transcribe_many(self, sources: Iterable[Source], options: TranscribeOptions | None = None, *,
                        languages: Sequence[str | None] | None = None,
                        on_progress: Callable[[float], None] | None = None,
                        ) -> Iterator[tuple[int, Transcript | TingshuoError]]:
        """Yield ``(index, Transcript or error)`` for each source, in completion order.

        Chunks of up to ``options.batch_size`` are decoded together across files. A file that
        cannot be read yields its ``TingshuoError`` and the others continue. ``languages[i]``
        overrides ``options.language`` for source ``i`` (e.g. from a manifest). ``on_progress``
        gets the seconds of audio of each finished file.
        """
        opts = options or self.options
        q: queue.Queue = queue.Queue(maxsize=QUEUE_PIECES)
        stop = threading.Event()
        lang_list = list(languages) if languages is not None else None
        worker = threading.Thread(target=self._produce, args=(sources, opts, lang_list, q, stop),
                                  name="tingshuo-decode", daemon=True)
        worker.start()
        limit = int(self.chunk_s * 16000)
        files: dict[int, _FileState] = {}
        done = False
        try:
            while True:
                # Take what the decoder thread has; wait only when no file can make a chunk.
                while not done:
                    n_ready = sum(st.chunks_ready(limit) for st in files.values())
                    if n_ready >= opts.batch_size:
                        break
                    try:
                        item = q.get(block=n_ready == 0)
                    except queue.Empty:
                        break
                    if item[0] == "done":
                        done = True
                    elif item[0] == "open":
                        files[item[1]] = _FileState(source=item[2], language=item[3])
                    elif item[0] == "piece":
                        st = files[item[1]]
                        st.queue.append(item[2])
                        st.queued += item[2].samples.size
                    elif item[0] == "close":
                        files[item[1]].closed = True
                        files[item[1]].duration_s = item[2]
                    elif item[0] == "error":
                        files.pop(item[1], None)
                        yield item[1], item[2]
                for i in [i for i, st in files.items() if st.closed and not st.queue and not st.holes]:
                    yield i, self._finish(files.pop(i), on_progress)
                # A batch takes chunks across files, several from one long file. What a chunk
                # left out is decoded again on its own (it cannot join later audio: a segment
                # would straddle the jump in time).
                batch = []
                for i, st in files.items():
                    for _ in range(min(st.chunks_ready(limit), opts.batch_size - len(batch))):
                        if st.holes:
                            plan, samples = pack(deque(st.holes.pop(0)), limit)
                        else:
                            plan, samples = pack(st.queue, limit)
                            st.queued -= samples.size
                        batch.append((i, plan, samples))
                    if len(batch) >= opts.batch_size:
                        break
                if not batch:
                    if done and not files:
                        return
                    continue
                langs = [files[i].language or files[i].detected for i, _, _ in batch]
                outs = self.engine.transcribe_batch([b[2] for b in batch], opts, langs)
                for (i, plan, samples), out in zip(batch, outs):
                    st = files[i]
                    st.results.append((plan, out))
                    if (st.language is None and st.detected is None and out.language
                            and out.language_probability >= STICKY_LANGUAGE_PROB):
                        st.detected = out.language
                    # What the recogniser left out goes back to the front, to lead the next chunk.
                    for t0, t1 in out.unconsumed:
                        pieces = [p for p in plan.pieces(t0, t1, samples) if p.retries <= MAX_RETRIES]
                        if pieces:
                            st.holes.append(pieces)
        finally:
            stop.set()
            while worker.is_alive():  # unblock a producer waiting on a full queue
                try:
                    q.get(timeout=0.05)
                except queue.Empty:
                    pass

    def _produce(self, sources, opts: TranscribeOptions, lang_list, q: queue.Queue, stop: threading.Event) -> None:
        """Decode each source block by block, find its speech regions, queue them (background thread)."""
        try:
            for i, src in enumerate(sources):
                if stop.is_set():
                    return
                lang = lang_list[i] if lang_list is not None and lang_list[i] else opts.language
                q.put(("open", i, _label(src), lang))
                try:
                    if lang_list is not None and lang_list[i]:  # a manifest's language: this file's problem only
                        self._check_file_language(src, lang_list[i])
                    regions = self.regions(opts)
                    for block in iter_audio(src, block_s=30.0):
                        for piece in regions.push(block):
                            q.put(("piece", i, piece))
                        if stop.is_set():
                            return
                    for piece in regions.finish():
                        q.put(("piece", i, piece))
                    q.put(("close", i, regions.n_samples / 16000))
                except TingshuoError as exc:
                    q.put(("error", i, exc))
                except Exception as exc:  # an unexpected decoder failure stays this file's problem
                    q.put(("error", i, InputError(f"{_label(src)}: could not be read ({exc}).")))
        finally:
            q.put(("done",))

    def _check_file_language(self, src, language: str) -> None:
        """An ``InputError`` naming the file when the engine cannot take its own language (from a manifest
        line), before its audio is decoded — raised later, inside a batch, it would end every file's run."""
        check = getattr(self.engine, "check_language", None)
        if check is None:
            return
        try:
            check(language)
        except InputError as exc:
            raise InputError(f"{_label(src)}: {exc}") from None

    def _finish(self, st: _FileState, on_progress) -> Transcript:
        segments = []
        weights: Counter = Counter()
        probs: dict[str, list[float]] = {}
        for plan, out in st.results:
            out: ChunkResult
            segments.extend(s.retimed(plan.to_original) for s in out.segments)
            if out.language:
                weights[out.language] += sum(s.end_s - s.start_s for s in out.segments) + 1e-3
                probs.setdefault(out.language, []).append(out.language_probability)
        language = st.language or (weights.most_common(1)[0][0] if weights else None)
        prob = float(np.mean(probs[language])) if language in probs else (1.0 if st.language else 0.0)
        if on_progress:
            on_progress(st.duration_s)
        segments.sort(key=lambda seg: seg.start_s)
        return Transcript.from_segments(tuple(segments), language=language, language_probability=prob,
                                        duration_s=round(st.duration_s, 3), source=st.source, model=self.model_name)


def _label(src) -> str:
    if isinstance(src, (str, os.PathLike)):
        return str(src)
    if isinstance(src, Audio) and src.source:
        return src.source
    return "<audio>"
