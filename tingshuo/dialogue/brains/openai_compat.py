"""A brain backed by any OpenAI-compatible chat-completions endpoint (llama.cpp server, Ollama, vLLM, ...).

Tokens stream back as they arrive. The knowledge base's best entries are put in the system
message as context (retrieval-augmented generation). If the endpoint cannot be reached, errors,
or is too slow to start answering, the brain falls back to the knowledge-base answer and logs a
warning; if it fails half way, the caller keeps what was said. Only the standard library talks
HTTP here (server-sent events over urllib), so this needs no extra package.
"""

from __future__ import annotations

import json
import logging
import socket
import time
import urllib.error
import urllib.request
from typing import Iterator

from ...errors import InputError
from ...registry import register
from ..context import Conversation
from ..kb import text_language
from .base import ReplyInfo
from .kb import KBBrain

log = logging.getLogger("tingshuo.dialogue")

SYSTEM_PROMPT = (
    "You are the voice assistant of {name}'s customer-service line. Answer in one to three short "
    "spoken sentences, in the caller's language ({language}). Use only the knowledge below; if it does "
    "not cover the question, say you will transfer the caller to a human agent. No lists, no markdown.\n"
    "Knowledge:\n{knowledge}"
)


@register("brain", "openai")
class OpenAIChatBrain:
    """``base_url`` like http://127.0.0.1:8080/v1; ``model`` as the server names it."""

    name = "openai"

    def __init__(self, base_url: str, model: str = "default", *, api_key: str | None = None, kb="bank",
                 first_token_timeout_s: float = 8.0, total_timeout_s: float = 30.0, temperature: float = 0.3,
                 max_tokens: int = 200, fallback: KBBrain | None = None) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise InputError(f"LLM endpoint '{base_url}' must start with http:// or https://.")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key = api_key
        self.first_token_timeout_s = first_token_timeout_s
        self.total_timeout_s = total_timeout_s
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.kb_brain = fallback or KBBrain(kb)

    def prompt(self, key: str, language: str | None) -> str:
        return self.kb_brain.prompt(key, language)

    def _messages(self, conversation: Conversation, text: str, language: str) -> tuple[list[dict], list]:
        hits = self.kb_brain.retrieve(text, language, k=3)
        knowledge = "\n".join(f"- ({h.entry.id}) {self.kb_brain.knowledge(conversation, h.entry, text, language)}"
                              for h in hits)
        system = SYSTEM_PROMPT.format(name=self.kb_brain.kb.name, language={"zh": "Mandarin Chinese"}.get(
            language, "English"), knowledge=knowledge)
        msgs = [{"role": "system", "content": system}]
        for m in conversation.window():
            content = m.text + (" [the caller interrupted here]" if m.interrupted else "")
            msgs.append({"role": m.role, "content": content})
        if not msgs[-1]["role"] == "user":
            msgs.append({"role": "user", "content": text})
        return msgs, hits

    def _stream(self, messages: list[dict]) -> Iterator[str]:
        body = json.dumps({"model": self.model, "messages": messages, "stream": True,
                           "temperature": self.temperature, "max_tokens": self.max_tokens}).encode()
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        req = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        started = time.monotonic()
        with urllib.request.urlopen(req, timeout=self.first_token_timeout_s) as resp:
            for raw in resp:
                if time.monotonic() - started > self.total_timeout_s:
                    raise TimeoutError(f"answer took over {self.total_timeout_s:.0f} s")
                line = raw.decode("utf-8", "replace").strip()
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    return
                try:
                    chunk = json.loads(data)
                    delta = chunk["choices"][0].get("delta") or {}
                except (json.JSONDecodeError, KeyError, IndexError, TypeError):
                    continue
                piece = delta.get("content")
                if piece:
                    yield piece

    def respond(self, conversation: Conversation, text: str, language: str | None) -> Iterator[str | ReplyInfo]:
        lang = language if language in ("zh", "en") else text_language(text)
        messages, hits = self._messages(conversation, text, lang)
        said = 0
        try:
            for piece in self._stream(messages):
                said += len(piece)
                yield piece
        except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", None) or exc
            if said:
                log.warning("LLM endpoint %s failed after %d characters (%s); ending the answer there.",
                            self.url, said, reason)
                yield ReplyInfo("llm", lang, hits[0].entry.id if hits else None, extra={"error": str(reason)})
                return
            log.warning("LLM endpoint %s failed (%s); answering from the knowledge base instead.", self.url, reason)
            answer, info = self.kb_brain.decide(conversation, text, lang)
            yield answer
            yield ReplyInfo("llm-fallback", info.language, info.entry, info.confidence, info.handoff,
                            extra={"error": str(reason)})
            return
        if not said:  # an endpoint that answered nothing
            answer, info = self.kb_brain.decide(conversation, text, lang)
            yield answer
            yield ReplyInfo("llm-fallback", info.language, info.entry, info.confidence, info.handoff,
                            extra={"error": "empty answer"})
            return
        top = hits[0].entry if hits else None
        yield ReplyInfo("llm", lang, top.id if top else None, hits[0].score if hits else None,
                        handoff=bool(top and top.intent == "handoff"
                                     and self.kb_brain.judge(self.kb_brain.index.scores(text, lang)) == "answer"))
