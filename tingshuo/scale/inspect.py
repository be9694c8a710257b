"""``inspect`` on Ray: per-clip signal measurements and the recogniser on actors; the SQLite store,
duplicates, grades, manifests and the report stay on the driver (``tingshuo.quality``).

    >>> with ray_stages(RayOptions(enabled=True)) as stages:                  # doctest: +SKIP
    ...     inspect_dataset(inputs, "out/qc", options, **stages)

Each clip's measurements arrive as small results (metrics and fingerprints, never audio) and are
committed to the store at once, as a local run does; a rerun resumes from the store.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from .cluster import connect
from .functions import RayMapExecutor
from .options import RayOptions

SIGNAL_MEMORY_GB = 1.0  # one file streamed in blocks, DNSMOS windows, fingerprints (rel-inspect: ~115 MB + models)


@contextmanager
def ray_stages(ray: RayOptions) -> Iterator[dict]:
    """One Ray connection for the whole inspection, and the two stage executors that use it:
    ``executor`` (the signal stage's map) and ``transcribe_many`` (the transcript checks)."""
    from .transcribe import transcribe_many

    with connect(ray):
        def asr(paths, model, options):
            return transcribe_many(paths, model, options, ray=ray)

        yield {"executor": RayMapExecutor(ray, memory_gb=SIGNAL_MEMORY_GB), "transcribe_many": asr}
