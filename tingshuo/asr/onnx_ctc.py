"""Our own trained CTC models on onnxruntime: the folder ``tingshuo train export`` writes.

No torch: features come from ``tingshuo.audio.features`` (numpy, the same numbers training
used), the encoder + CTC head from ``model.onnx``, and greedy CTC decoding here. Segments split
at long pauses (runs of blank frames); word times come from the CTC spikes.

    >>> engine = create("asr", "onnx-ctc", model_dir="runs/cathy/export")     # doctest: +SKIP
    tingshuo transcribe talk.wav --model runs/cathy/export
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from ..audio.features import log_mel
from ..errors import InputError
from ..registry import register
from ..types import Segment, Word
from .base import ChunkResult, TranscribeOptions

MARKER = "tingshuo-asr.json"
SPACE = "▁"
PAUSE_S = 0.8  # a run of blanks this long between tokens starts a new segment


def find_export(model_dir: str | os.PathLike) -> Path:
    """The export folder: ``model_dir`` itself, or its ``export/`` (a run directory)."""
    p = Path(model_dir)
    for cand in (p, p / "export"):
        if (cand / MARKER).is_file() and (cand / "model.onnx").is_file():
            return cand
    raise InputError(f"{p} holds no exported tingshuo model ({MARKER} and model.onnx); "
                     f"run 'tingshuo train export RUN_DIR' first.")


@register("asr", "onnx-ctc")
class OnnxCTCEngine:
    """An exported CTC model; ``model_dir`` is the export folder or the run folder above it."""

    multilingual = False

    def __init__(self, model_dir: str | os.PathLike, *, cpu_threads: int = 0, name: str | None = None) -> None:
        import onnxruntime as ort

        self.dir = find_export(model_dir)
        self.meta = json.loads((self.dir / MARKER).read_text(encoding="utf-8"))
        if self.meta.get("format") != "tingshuo-asr" or int(self.meta.get("version", 0)) > 1:
            raise InputError(f"{self.dir / MARKER} is not a tingshuo ASR export this version can read.")
        self.vocab: list[str] = self.meta["vocab"]
        self.blank = int(self.meta.get("blank_id", 0))
        self.language = self.meta.get("lang")
        self.n_mels = int(self.meta["features"]["n_mels"])
        self.frame_shift_s = float(self.meta["frame_shift_s"])
        self.max_chunk_s = float(self.meta.get("max_chunk_s", 30.0))
        self.name = name or self.meta.get("name") or self.dir.name
        so = ort.SessionOptions()
        threads = cpu_threads or max(1, min(len(os.sched_getaffinity(0)), 8))
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(self.dir / "model.onnx"), so, providers=["CPUExecutionProvider"])

    # ------------------------------------------------------------------ recognition
    def log_probs(self, chunks: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Per chunk ``(frames', vocab)`` CTC log-probabilities."""
        feats = [log_mel(c, self.n_mels) for c in chunks]
        lengths = np.array([f.shape[0] for f in feats], np.int64)
        t = max(1, int(lengths.max()) if len(feats) else 1)
        t = max(t, 7)  # the subsampling convolutions need a few frames
        batch = np.zeros((len(feats), t, self.n_mels), np.float32)
        for i, f in enumerate(feats):
            batch[i, : f.shape[0]] = f
        lp, out_len = self.session.run(None, {"feats": batch, "feat_lengths": lengths})
        return [lp[i, : max(0, int(out_len[i]))] for i in range(len(feats))]

    def check_language(self, language: str | None) -> str | None:
        """The code back if this model can take it; an ``InputError`` otherwise."""
        if language and self.language and language != self.language:
            raise InputError(f"Model {self.name} was trained on '{self.language}' speech; it cannot "
                             f"transcribe '{language}'.")
        return language

    def transcribe_batch(self, chunks: Sequence[np.ndarray], options: TranscribeOptions,
                         languages: Sequence[str | None] | None = None) -> list[ChunkResult]:
        if options.task == "translate":
            raise InputError(f"Model {self.name} transcribes only; it cannot translate.")
        for lang in (languages or []):
            self.check_language(lang)
        if options.language and self.language and options.language != self.language:
            raise InputError(f"Model {self.name} was trained on '{self.language}' speech, not '{options.language}'.")
        out = []
        for lp in self.log_probs(chunks):
            segs = self._segments(lp, options.word_timestamps)
            out.append(ChunkResult(tuple(segs), self.language, 1.0))
        return out

    def _segments(self, lp: np.ndarray, with_words: bool) -> list[Segment]:
        """Greedy CTC -> segments split at pauses, words timed by their first/last spikes."""
        if lp.shape[0] == 0:
            return []
        best = lp.argmax(-1)
        score = lp.max(-1)
        spikes = []  # (frame, token id, log-prob) for each emitted token
        prev = self.blank
        for t, k in enumerate(best.tolist()):
            if k != self.blank and k != prev and 1 < k < len(self.vocab) - 1:
                spikes.append((t, k, float(score[t])))
            prev = k
        groups: list[list[tuple[int, int, float]]] = []
        gap = int(PAUSE_S / self.frame_shift_s)
        for s in spikes:
            if not groups or s[0] - groups[-1][-1][0] > gap:
                groups.append([])
            groups[-1].append(s)
        shift = self.frame_shift_s
        segments = []
        for g in groups:
            words = _words(g, self.vocab, shift, self.language)
            text = "".join(self.vocab[k] for _, k, _ in g).replace(SPACE, " ").strip()
            if not text:
                continue
            start = g[0][0] * shift
            end = (g[-1][0] + 1) * shift
            segments.append(Segment(start_s=round(start, 3), end_s=round(end, 3), text=text,
                                    words=tuple(words) if with_words else (), language=self.language,
                                    avg_logprob=float(np.mean([p for *_, p in g]))))
        return segments


def _words(group, vocab, shift: float, lang: str | None) -> list[Word]:
    words: list[Word] = []
    cur: list[tuple[int, str, float]] = []

    def flush():
        if cur:
            text = "".join(c for _, c, _ in cur)
            words.append(Word(start_s=round(cur[0][0] * shift, 3), end_s=round((cur[-1][0] + 1) * shift, 3),
                              text=(" " + text) if lang != "zh" else text,
                              probability=float(np.exp(np.mean([p for *_, p in cur])))))
            cur.clear()

    for t, k, p in group:
        piece = vocab[k]
        if lang == "zh":
            cur.append((t, piece, p))
            flush()
            continue
        if piece.startswith(SPACE):
            flush()
            piece = piece[1:]
        if piece:
            cur.append((t, piece, p))
    flush()
    return words


__all__ = ["OnnxCTCEngine", "find_export"]
