"""The batch verbs' progress bar on the driver: items done / total, items per second, errors, audio."""

from __future__ import annotations

import sys


class BatchProgress:
    """``transcribing  12/40 clips [00:09<00:21, 1.3 clips/s, 0 errors, 95 s audio]`` on stderr.

    Shown only on a terminal; ``note()`` prints a line above the bar (or plainly without one).
    """

    def __init__(self, total: int, *, desc: str, unit: str = "clip", quiet: bool = False) -> None:
        self.errors = 0
        self.audio_s = 0.0
        self.show = not quiet and sys.stderr.isatty()
        self.quiet = quiet
        self.bar = None
        if self.show:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit=unit, desc=desc, dynamic_ncols=True, file=sys.stderr,
                            bar_format="{desc} {n}/{total} " + unit + "s |{bar}| [{elapsed}<{remaining}, "
                                       "{rate_noinv_fmt}{postfix}]")
            self._postfix()

    def _postfix(self) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(f"{self.errors} error{'s' if self.errors != 1 else ''}, "
                                     f"{self.audio_s:.0f} s audio", refresh=False)

    def done(self, audio_s: float = 0.0, *, failed: bool = False) -> None:
        self.audio_s += audio_s
        self.errors += int(failed)
        if self.bar is not None:
            self._postfix()
            self.bar.update(1)

    def note(self, line: str, *, always: bool = False) -> None:
        """A line on stderr: errors always, per-item lines only when the bar is shown."""
        if self.bar is not None:
            self.bar.write(line, file=sys.stderr)
        elif always or not self.quiet and self.show:
            print(line, file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
