"""Scale out on Ray: the batch verbs' work on a cluster's actors, the outputs kept by the driver.

    tingshuo transcribe corpus/ -o out/ --ray                     # $RAY_ADDRESS, or a local Ray
    tingshuo transcribe corpus/ -o out/ --ray-address head:6379 --ray-actors 4:32

Python::

    >>> from tingshuo.scale import RayOptions, transcribe_many, transcribe_dataset   # doctest: +SKIP

``ray`` is imported only when a job runs (``pip install 'tingshuo[ray]'``). See docs/scale.md.
"""

from __future__ import annotations

from typing import Any

from .options import RayOptions, add_ray_arguments, ray_options

__all__ = ["RayOptions", "add_ray_arguments", "ray_options", "transcribe_many", "transcribe_dataset",
           "connect", "run_items", "Job", "Outcome", "RunStats", "RayMapExecutor"]


def __getattr__(name: str) -> Any:  # the rest loads on first use (it needs no ray until a job runs)
    if name in ("transcribe_many", "transcribe_dataset"):
        from . import transcribe

        return getattr(transcribe, name)
    if name == "connect":
        from .cluster import connect

        return connect
    if name == "RayMapExecutor":
        from .functions import RayMapExecutor

        return RayMapExecutor
    if name in ("run_items", "Job", "Outcome", "RunStats"):
        from . import executor

        return getattr(executor, name)
    raise AttributeError(name)
