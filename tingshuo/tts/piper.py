"""Piper (VITS) voices on onnxruntime, with espeak-ng phonemes: the English neural default.

Why not the ``piper-tts`` package: it is GPL-3.0 as a whole and carries its own espeak-ng build;
running the voice's ONNX graph here needs only onnxruntime (MIT) plus libespeak-ng loaded
dynamically from ``espeakng-loader`` for phonemes, and lets tingshuo set threads, split
sentences itself and read the duration of each phoneme (for word timestamps). The phoneme
IDs follow Piper's scheme: ``^`` + (phoneme, pad)* + ``$``. ``bench/tts.py`` compares the two.

    >>> engine = PiperEngine(model_dir=models.resolve("piper-joe"))     # doctest: +SKIP
    >>> chunk = next(engine.synthesize("hello world.", voice, SpeakOptions()))   # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import re
import threading
import unicodedata
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import EngineError, ModelNotInstalled
from ..registry import register
from ..types import AudioChunk
from . import espeak
from .base import SpeakOptions, VoiceInfo
from .text import split_clauses

CLAUSE_MARKS = {",": ",", "，": ",", "、": ",", ";": ";", "；": ";", ":": ":", "：": ":", ".": ".", "。": ".",
                "!": "!", "！": "!", "?": "?", "？": "?", "…": "."}


def _session(model: Path, want_durations: bool, threads: int):
    import onnxruntime

    opts = onnxruntime.SessionOptions()
    opts.intra_op_num_threads = threads or (os.cpu_count() or 1)
    opts.inter_op_num_threads = 1
    source: str | bytes = str(model)
    if want_durations:
        # Expose the per-phoneme frame counts (VITS's w_ceil) as a second output, in memory.
        try:
            import onnx

            graph = onnx.load(str(model))
            ceil = [o for n in graph.graph.node if n.op_type == "Ceil" for o in n.output]
            if len(ceil) == 1 and ceil[0] not in {o.name for o in graph.graph.output}:
                info = onnx.ValueInfoProto()
                info.name = ceil[0]
                graph.graph.output.append(info)
                source = graph.SerializeToString()
        except ImportError:  # without onnx, sentence timestamps only
            pass
    try:
        return onnxruntime.InferenceSession(source, sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise EngineError(f"Piper voice {model} could not be loaded ({exc}); reinstall its package.") from None


@register("tts", "piper")
class PiperEngine:
    """A Piper voice: ``model_dir`` holds ``*.onnx`` and ``*.onnx.json``."""

    name = "piper"

    def __init__(self, model_dir: str | os.PathLike, threads: int = 0, **_: object) -> None:
        model_dir = Path(model_dir)
        onnx_files = sorted(model_dir.glob("*.onnx"))
        if not onnx_files:
            raise ModelNotInstalled(f"No Piper voice (*.onnx) in {model_dir}; reinstall its package.")
        self.model = onnx_files[0]
        self.config = json.loads(Path(f"{self.model}.json").read_text(encoding="utf-8"))
        self.sample_rate = int(self.config["audio"]["sample_rate"])
        self.hop_length = int(self.config.get("hop_length", 256))
        self.espeak_voice = self.config.get("espeak", {}).get("voice", "en-us")
        self.id_map: dict[str, list[int]] = self.config["phoneme_id_map"]
        inference = self.config.get("inference", {})
        self.length_scale = float(inference.get("length_scale", 1.0))
        self.noise_w = float(inference.get("noise_w", 0.8))
        espeak.library()  # fail now, not on the first sentence, when espeak-ng is missing
        self.session = _session(self.model, True, threads)
        self.has_durations = len(self.session.get_outputs()) > 1
        self._lock = threading.Lock()

    # ------------------------------------------------------------------------- phonemes
    def phonemes(self, sentence: str) -> list[tuple[list[str], str]]:
        """``[(phoneme symbols, clause text)]``: each clause phonemised, its punctuation kept."""
        out = []
        for clause, mark in split_clauses(sentence):
            ph = espeak.phonemize(clause, self.espeak_voice) if clause else ""
            ph = re.sub(r"\([^)]*\)", "", ph)  # espeak's (en)/(fr) language-switch flags
            ph += CLAUSE_MARKS.get(mark[:1], "") if mark else ""
            symbols = list(unicodedata.normalize("NFD", ph))
            if symbols:
                out.append((symbols, clause))
        return out

    def ids(self, symbols: list[str]) -> list[int]:
        pad = self.id_map["_"]
        ids = list(self.id_map["^"]) + list(pad)
        for s in symbols:
            if s in self.id_map:  # unknown symbols are skipped, as Piper does
                ids += self.id_map[s] + pad
        return ids + list(self.id_map["$"])

    # ------------------------------------------------------------------------- synthesis
    def synthesize(self, text: str, voice: VoiceInfo | None = None,
                   options: SpeakOptions | None = None) -> Iterator[AudioChunk]:
        opts = options or SpeakOptions()
        clauses = self.phonemes(text)
        symbols = [s for ph, _ in clauses for s in (ph + [" "])][:-1] if clauses else []
        if not symbols:
            return
        ids = self.ids(symbols)
        scales = np.array([opts.variation, self.length_scale / opts.rate, self.noise_w], np.float32)
        feeds = {"input": np.array([ids], np.int64), "input_lengths": np.array([len(ids)], np.int64),
                 "scales": scales}
        if "sid" in {i.name for i in self.session.get_inputs()}:
            feeds["sid"] = np.array([0], np.int64)
        with self._lock:  # one run at a time keeps memory flat; the graph uses all threads anyway
            result = self.session.run(None, feeds)
        audio = np.asarray(result[0], np.float32).reshape(-1)
        words = []
        if self.has_durations and len(result) > 1:
            frames = np.asarray(result[1]).reshape(-1)
            words = self._word_times(text, symbols, frames)
        yield AudioChunk(audio, self.sample_rate, text=text, is_last=True, meta={"words": words})

    def _word_times(self, text: str, symbols: list[str], frames: np.ndarray) -> list[tuple[float, float, str]]:
        """Word times from phoneme durations, when espeak's words line up with the text's words."""
        if frames.size != len(self.ids(symbols)):
            return []
        samples = frames * self.hop_length
        # ids: ^ _ (s _)* $ ; symbol k owns positions 2+2k and 3+2k (itself and its pad).
        t = np.concatenate([[0.0], np.cumsum(samples)]) / self.sample_rate
        spans, start = [], None
        known = [s for s in symbols if s in self.id_map]
        for k, s in enumerate(known):
            is_letter = s not in " ,.;:!?"
            if is_letter and start is None:
                start = k
            if (not is_letter or k == len(known) - 1) and start is not None:
                end = k if is_letter else k - 1
                spans.append((float(t[2 + 2 * start]), float(t[min(len(t) - 1, 4 + 2 * end)])))
                start = None
        words = re.findall(r"[\w'’]+(?:[-–][\w'’]+)*", text)
        split = [p for w in words for p in re.split(r"[-–]", w) if p]
        for candidate in (words, split):  # espeak keeps some hyphenated words whole, splits others
            if len(candidate) == len(spans):
                return [(a, b, w) for (a, b), w in zip(spans, candidate)]
        return []
