"""Brains answer a user turn as a stream of text; see base.py for the protocol."""

from .base import Brain, ReplyInfo, load_brain

__all__ = ["Brain", "ReplyInfo", "load_brain"]
