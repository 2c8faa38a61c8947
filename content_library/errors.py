"""The three ways a service says no. Routes turn them into form errors, 404s and 403s."""

from __future__ import annotations


class Invalid(Exception):
    """Bad input. `reasons` maps a field name (or "" for the whole input) to a sentence."""

    def __init__(self, reasons: dict[str, str] | str):
        if isinstance(reasons, str):
            reasons = {"": reasons}
        self.reasons = reasons
        super().__init__("; ".join(f"{k}: {v}" if k else v for k, v in reasons.items()))


class NotFound(Exception):
    """Missing, or not visible to the caller: the two must look the same from outside."""


class NotAllowed(Exception):
    """The caller's role may not use this function at all."""


class Conflict(Exception):
    """Someone else saved a newer version since the caller loaded the item."""
