"""Progress bars for the long commands, on a terminal only.

`bars()` gives the `progress(step, done, total)` callable content_library's services take
(content_library.progress) and draws one click progress bar per step on standard error.
When standard error is no terminal (a script, cron, a test) it draws nothing at all, so
what those see is the command's usual output and nothing else.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click

from content_library.progress import Progress, quiet


class _Bars:
    def __init__(self, stream) -> None:
        self.stream = stream
        self.step: str | None = None
        self.bar = None

    def __call__(self, step: str, done: int, total: int) -> None:
        if step != self.step:
            self.close()
            self.step = step
            self.bar = click.progressbar(length=max(total, 1), label=step.capitalize(),
                                         file=self.stream, show_pos=total > 1)
            self.bar.__enter__()
        self.bar.update(max(done - self.bar.pos, 0))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


@contextmanager
def bars(stream=None) -> Iterator[Progress]:
    stream = stream or sys.stderr
    if not stream.isatty():
        yield quiet
        return
    drawn = _Bars(stream)
    try:
        yield drawn
    finally:
        drawn.close()
