"""Putting a service's reasons back onto the form fields the person typed into."""

from __future__ import annotations

from flask_wtf import FlaskForm

from content_library.errors import Invalid


def put_errors(form: FlaskForm, exc: Invalid, renames: dict[str, str] | None = None) -> None:
    renames = renames or {}
    general = []
    for key, reason in exc.reasons.items():
        name = renames.get(key, key)
        field = getattr(form, name.replace(".", "_"), None) if name else None
        if field is not None and hasattr(field, "errors"):
            field.errors = [*list(field.errors or []), reason]
        else:
            general.append(reason if not key else f"{key}: {reason}")
    if general:
        form.form_errors = [*form.form_errors, *general]
