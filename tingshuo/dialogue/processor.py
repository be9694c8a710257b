"""Processors pass frames along a chain; the base class forwards what a processor does not handle.

    class Upper(Processor):
        async def handle(self, frame):
            if isinstance(frame, BotSentence):
                await self.push(dataclasses.replace(frame, text=frame.text.upper()))
                return True
            return False          # anything else goes on unchanged, by the base class

    chain = Chain([Upper(), Printer()], sink=observer)
    await chain.process(frame)
"""

from __future__ import annotations

from typing import Awaitable, Callable, Sequence

from .frames import Frame

Sink = Callable[[Frame], Awaitable[None]]


class Processor:
    """One stage. Override ``handle``; return True when the frame was consumed."""

    def __init__(self) -> None:
        self._next: Processor | None = None
        self._sink: Sink | None = None

    async def handle(self, frame: Frame) -> bool:
        return False

    async def process(self, frame: Frame) -> None:
        if not await self.handle(frame):
            await self.push(frame)

    async def push(self, frame: Frame) -> None:
        """Send a frame to the next stage (or, from the last stage, out of the chain)."""
        if self._next is not None:
            await self._next.process(frame)
        elif self._sink is not None:
            await self._sink(frame)


class Chain(Processor):
    """Processors linked in order; frames leaving the last one go to ``sink``. A chain is a processor."""

    def __init__(self, processors: Sequence[Processor], sink: Sink | None = None) -> None:
        super().__init__()
        self.processors = list(processors)
        for a, b in zip(self.processors, self.processors[1:]):
            a._next = b
        self.processors[-1]._sink = self._out
        self._outer_sink = sink

    async def _out(self, frame: Frame) -> None:
        if self._outer_sink is not None:
            await self._outer_sink(frame)
        else:
            await self.push(frame)

    async def process(self, frame: Frame) -> None:
        await self.processors[0].process(frame)
