"""How a batch verb runs on Ray: one frozen dataclass, and the ``--ray*`` flags every batch verb shares.

    >>> RayOptions(actors="2:4").actor_range(cluster_cpus=16)
    (2, 4)
    >>> RayOptions().actor_range(cluster_cpus=16)          # 1:auto -> as many as the CPUs allow
    (1, 16)
"""

from __future__ import annotations

import argparse
import math
import os
from dataclasses import dataclass

from ..options import add_arguments, from_namespace, opt


@dataclass(frozen=True)
class RayOptions:
    """Where and how wide a batch job runs on Ray. Each default is stated here once."""

    enabled: bool = opt(False, "run on a Ray cluster: $RAY_ADDRESS, or a local Ray started for this run "
                               "(see docs/scale.md)", flag="--ray")
    address: str | None = opt(None, "the Ray cluster to join (host:port); implies --ray", flag="--ray-address",
                              metavar="ADDR", shown="$RAY_ADDRESS, else a local Ray")
    actors: str = opt("1:auto", "actor pool size MIN:MAX (or N); auto = as many as the cluster's CPUs allow",
                      flag="--ray-actors", metavar="MIN:MAX")
    cpus_per_actor: float = opt(1.0, "CPUs each actor reserves; its model runs that many threads",
                                flag="--ray-cpus-per-actor", metavar="K")
    memory_gb_per_actor: float | None = opt(None, "memory each actor asks the scheduler for, in GB "
                                                  "(Ray does not count what a model really uses)",
                                            flag="--ray-memory-per-actor", metavar="GB",
                                            shown="the model's measured peak")
    items_per_batch: int = opt(4, "inputs per Ray batch: what one actor call gets, and what is redone if it dies",
                          flag="--ray-batch", metavar="N")
    stall_timeout_s: float = opt(600.0, "stop with an error when no result arrives for this many seconds",
                                 flag="--ray-stall-timeout", metavar="S")
    reserve_cpus: float = opt(0.0, "CPUs the actor pool leaves free for other work on the cluster",
                              flag="--ray-reserve-cpus", metavar="K")
    max_attempts: int = opt(3, "passes over unfinished inputs before they are reported failed", cli=False)
    task_retries: int = opt(2, "times Ray retries a batch whose actor died, within one pass", cli=False)

    def __post_init__(self) -> None:
        if self.cpus_per_actor <= 0:
            raise ValueError("--ray-cpus-per-actor must be above 0.")
        if self.items_per_batch < 1:
            raise ValueError("--ray-batch must be at least 1.")
        if self.stall_timeout_s <= 0:
            raise ValueError("--ray-stall-timeout must be above 0 seconds.")
        if self.reserve_cpus < 0:
            raise ValueError("--ray-reserve-cpus cannot be negative.")
        if self.memory_gb_per_actor is not None and self.memory_gb_per_actor <= 0:
            raise ValueError("--ray-memory-per-actor must be above 0 GB.")
        if self.max_attempts < 1 or self.task_retries < 0:
            raise ValueError("max_attempts must be at least 1 and task_retries at least 0.")
        self._parse_actors()

    @property
    def active(self) -> bool:
        """Whether the job runs on Ray (``--ray`` or an address was given)."""
        return self.enabled or bool(self.address)

    @property
    def threads(self) -> int:
        """Threads an actor's model runs: its CPUs, rounded up."""
        return max(1, math.ceil(self.cpus_per_actor))

    def resolved_address(self) -> str | None:
        return self.address or os.environ.get("RAY_ADDRESS") or None

    def _parse_actors(self) -> tuple[int, int | None]:
        text = self.actors.strip()
        lo_s, _, hi_s = text.partition(":") if ":" in text else (text, ":", text)
        try:
            lo = int(lo_s) if lo_s.strip() else 1
            hi = None if hi_s.strip() in ("auto", "") else int(hi_s)
        except ValueError:
            raise ValueError(f"--ray-actors expects MIN:MAX or N (e.g. 2:8, 1:auto, 4), not {self.actors!r}.") from None
        if lo < 1 or (hi is not None and hi < lo):
            raise ValueError(f"--ray-actors {self.actors!r}: MIN must be at least 1 and MAX at least MIN.")
        return lo, hi

    def actor_range(self, cluster_cpus: float) -> tuple[int, int]:
        """(min, max) actors for a cluster with ``cluster_cpus`` CPUs: MAX=auto takes what fits after
        ``reserve_cpus``; an explicit MAX is kept (the scheduler waits for room)."""
        lo, hi = self._parse_actors()
        fit = max(1, int((cluster_cpus - self.reserve_cpus + 1e-9) // self.cpus_per_actor))
        return lo, (hi if hi is not None else max(lo, fit))


def add_ray_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``--ray*`` flags, in their own help section."""
    group = parser.add_argument_group("Ray (scale out; pip install 'tingshuo[ray]', see docs/scale.md)")
    add_arguments(group, RayOptions)


def ray_options(args: argparse.Namespace) -> RayOptions:
    return from_namespace(RayOptions, args)
