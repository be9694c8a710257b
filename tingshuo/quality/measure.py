"""The per-clip work of ``inspect``: one path in, one small result out, as a plain function.

    >>> r = measure_file("a.wav", dnsmos_on=False)                      # doctest: +SKIP
    >>> r.metrics["snr_db"], r.pcm, r.words.size                        # doctest: +SKIP

``measure_file`` is what a worker process runs (``workers.LocalExecutor``), and what any other
executor would run: it streams the file once through every signal check, the exact-duplicate
hash and the near-duplicate fingerprint, in memory bounded whatever the file's length. It never
raises for a bad file: an unreadable or truncated file, or any failure while measuring, is a
result with ``readable = 0`` and the reason. Only a missing model package (which every clip
would hit) is raised, so that the run stops and says what to install.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .stream import Block, ClipAudio, Meter, StreamState, run_stream


@dataclass(frozen=True)
class SignalResult:
    """Signal metrics of one file and the keys that find its duplicates (all small)."""

    metrics: dict
    pcm: str | None = None  # SHA-1 of its 16 kHz 16-bit PCM
    words: np.ndarray | None = None  # fingerprint words (first dedupe.FP_MAX_S seconds)
    loud: np.ndarray | None = None
    index_words: np.ndarray | None = None  # what goes into the near-duplicate index
    index_frames: np.ndarray | None = None

    @property
    def readable(self) -> bool:
        return bool(self.metrics.get("readable"))


class _Duplicates(Meter):
    """The exact-duplicate hash (all of the audio) and the fingerprint (its first minutes)."""

    def __init__(self, state: StreamState) -> None:
        from .dedupe import Fingerprinter

        super().__init__(state)
        self.sha = hashlib.sha1()
        self.fp = Fingerprinter()

    def feed(self, blk: Block) -> None:
        from .dedupe import _pcm16

        if blk.x16.size:
            self.sha.update(_pcm16(blk.x16))
            self.fp.push(blk.x16)

    def result(self) -> dict:
        return {}


def measure_file(path: str, dnsmos_on: bool = True,
                 on_progress: Callable[[float], None] | None = None) -> SignalResult:
    """Every signal metric of ``path`` and its duplicate keys; ``on_progress(seconds done)`` on long files."""
    from ..errors import ModelNotInstalled
    from .checks import metrics_of, signal_meters
    from .dedupe import index_arrays

    try:
        state = run_stream(ClipAudio.load(path), signal_meters(dnsmos_on) + [_Duplicates], on_progress=on_progress)
        metrics = metrics_of(state)
        if state.error:
            return SignalResult(metrics)
        dup = state.meters[-1]
        words, loud, weak = dup.fp.result()
        iw, ifr = index_arrays(words, loud, weak)
        return SignalResult(metrics, dup.sha.hexdigest(), words, loud, iw, ifr)
    except ModelNotInstalled:
        raise  # every clip would fail the same way: stop the run and say what to install
    except Exception as exc:  # one odd file must not end a long run; it is reported, not graded high
        return failed(path, exc)


def failed(path: str, exc: BaseException | str) -> SignalResult:
    """The result for a file whose measurement failed (an exception, or a worker that died)."""
    why = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
    return SignalResult({"readable": 0, "error": f"{path} could not be analysed ({why}); check that the file "
                                                 "plays, and report it if it does."})
