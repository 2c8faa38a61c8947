"""Putting a service's reasons back onto the form fields the person typed into."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from flask_wtf import FlaskForm

from content_library.errors import Invalid


def put_errors(form: FlaskForm, exc: Invalid, renames: dict[str, str] | None = None) -> None:
    renames = renames or {}
    general = []
    for key, reason in exc.reasons.items():
        name = renames.get(key, key)
        field = getattr(form, name.replace(".", "_"), None) if name else None
        if field is not None and hasattr(field, "errors"):
            # A field the form already refused keeps the form's own words: one reason is
            # enough, and the same one twice reads like a stutter.
            if not field.errors:
                field.errors = [reason]
        else:
            general.append(reason if not key else f"{key}: {reason}")
    if general:
        form.form_errors = [*form.form_errors, *general]


def expired(form: FlaskForm) -> bool:
    token = getattr(form, "csrf_token", None)
    return bool(token is not None and token.errors)


def validate_all(form: FlaskForm, problems: Callable[[], Mapping[str, str]],
                 renames: dict[str, str] | None = None) -> bool:
    """The form's own checks and the service's together, so a refused form names every
    problem at once instead of one field per submit. `problems` must only read."""
    if not form.is_submitted():
        return False
    form_ok = form.validate()
    if expired(form):
        return False
    reasons = dict(problems())
    if reasons:
        put_errors(form, Invalid(reasons), renames)
    return form_ok and not reasons
