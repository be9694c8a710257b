"""``align`` on Ray: each (audio, text) pair is aligned on an actor — and with ``--segment`` its clips
planned and checked by recognising them again; the driver writes the alignment files, cuts and
writes the kept clips and keeps the manifest and summary (``tingshuo.cli.align``).

    >>> for k, out in align_many([("/data/ch1.flac", text, "en", "ch1.flac")], AlignOptions(),
    ...                          ray=RayOptions(enabled=True)):                    # doctest: +SKIP
    ...     alignment, checked = out

Only the path, the text and small results cross the cluster: an ``Alignment`` (words with times)
and, with ``--segment``, a ``CheckedClips`` (clip boundaries, texts, error rates — no audio: the
driver cuts the kept clips from the recording itself). Each actor loads its Whisper models once,
with as many threads as it has CPUs.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Iterator, Sequence

from .executor import Job, RunStats, item_error
from .options import RayOptions

WORKER = "tingshuo.scale.align:AlignWorker"
MEMORY_GB = 1.5  # whisper-base for the anchors and forced windows (batch_size x 30 s); see docs/scale.md
SEGMENT_MEMORY_GB = 0.8  # the second recogniser that checks each clip


class AlignWorker:
    """Built once per actor: the aligner, and (with segment options) the recogniser that checks clips."""

    def __init__(self, options: Any, segment: Any, threads: int) -> None:
        from ..align.aligner import Aligner

        self.options = dataclasses.replace(options, cpu_threads=threads)
        self.aligner = Aligner(self.options)
        self.segment = segment
        self._transcriber = None

    def transcriber(self):
        if self._transcriber is None:  # as Segmenter.transcriber
            from ..asr.pipeline import Transcriber

            self._transcriber = Transcriber(self.options.model, cpu_threads=self.options.cpu_threads)
        return self._transcriber

    def __call__(self, rows: Sequence[dict]) -> list:
        from ..align.segment import check_clips

        out: list[Any] = []
        for row in rows:
            try:
                a = self.aligner.align(row["path"], row["text"], language=row.get("language") or None,
                                       label=row.get("label") or row["path"])
                checked = check_clips(row["path"], a, self.segment, self.transcriber) if self.segment else None
                out.append((a, checked))
            except Exception as exc:
                out.append(item_error(exc, row.get("label") or row["path"], "alignment failed"))
        return out


def job(options: Any, segment: Any, ray: RayOptions) -> Job:
    from .transcribe import check_model

    check_model(options.model)
    return Job(WORKER, {"options": options, "segment": segment, "threads": ray.threads},
               memory_gb=MEMORY_GB + (SEGMENT_MEMORY_GB if segment is not None else 0.0), name="align")


def align_many(pairs: Sequence[tuple[str, str, str | None, str]], options: Any, segment: Any = None, *,
               ray: RayOptions | None = None, stats: RunStats | None = None) -> Iterator[tuple[int, Any]]:
    """``(audio path, text, language or None, label)`` pairs in; ``(k, (Alignment, CheckedClips or
    None) or TingshuoError)`` out as each is done. Joins ``ray.address`` / ``$RAY_ADDRESS`` or starts
    a local Ray, and leaves it as it found it. Paths must be readable at the same place on every node."""
    from .cluster import connect
    from .executor import run_items

    ray = ray or RayOptions(enabled=True)
    rows = [{"index": k, "path": os.path.abspath(str(path)), "label": str(label), "text": text,
             "language": language or ""} for k, (path, text, language, label) in enumerate(pairs)]
    if not rows:
        return
    the_job = job(options, segment, ray)
    with connect(ray) as info:
        for out in run_items(rows, the_job, ray, info, stats):
            yield out.index, (out.error if out.error is not None else out.value)
