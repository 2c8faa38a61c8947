"""How long work tells its caller how far it is, without knowing who listens.

A service takes ``progress(step, done, total)`` and calls it as it goes: ``step`` names the
part under way in the reader's words ("copying files"), ``total`` is 0 when unknown. The
command line draws progress bars from it on a terminal; everyone else passes nothing.
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str, int, int], None]


def quiet(step: str, done: int, total: int) -> None:
    """The progress of a caller that does not watch."""
