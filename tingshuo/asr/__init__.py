"""Speech recognition: engines behind a small protocol, one pipeline above them."""

from .base import ChunkResult, TranscribeOptions

__all__ = ["ChunkResult", "TranscribeOptions"]
