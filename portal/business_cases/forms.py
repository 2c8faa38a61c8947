"""The fill-in form of a template: one input per field, built from the template's own fields."""

from __future__ import annotations

import re
from collections.abc import Sequence

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import Length

from content_library.services.deal_links import DealChoice
from content_library.services.templates import MAX_COMPANY, MAX_NUMBER_CHARS, MAX_TEXT, Field

from ..form_choices import choices

# What each kind of field says under its input.
HELP = {
    "number": "A number, like 1,200 or 3.5.",
    "currency": "An amount, like 250,000 or $250,000.50.",
    "percent": "A percentage, like 12.5 or 12.5%.",
    "date": "A date: year-month-day, like 2026-03-31.",
}


class FillForm(FlaskForm):
    """A template's fill-in form; `fill_form` adds the template's own fields."""

    # {template field name: the form field's name}, set by fill_form.
    field_keys: dict[str, str] = {}


def _key(name: str, taken: set[str]) -> str:
    """A form field name for a template field: XLSX names may hold dots, which a form's
    attributes may not."""
    key = "value_" + re.sub(r"[^A-Za-z0-9_]", "_", name)
    while key in taken:
        key += "_"
    taken.add(key)
    return key


def _input(field: Field):
    label = f"{field.label} (required)" if field.required else field.label
    attributes: dict[str, object] = {"required": True} if field.required else {}
    if field.kind == "date":
        attributes.update(type="date", maxlength=MAX_NUMBER_CHARS)
    elif field.kind == "text":
        attributes.update(maxlength=MAX_TEXT)
    else:
        attributes.update(inputmode="decimal", maxlength=MAX_NUMBER_CHARS)
    return StringField(label, description=HELP.get(field.kind), render_kw=attributes)


def fill_form(template_fields: Sequence[Field], *, ask_company: bool,
              deals: Sequence[DealChoice] | None = None, **form_options) -> FillForm:
    """The form for these fields (the company fields aside: the Company input fills them).

    `ask_company`: a rep or manager types the company; a champion's is their own and is not
    asked. `deals`: the open deals a rep may link the document to (None: no deal field).
    `form_options` go to the form (formdata=None for a GET, say)."""

    class Form(FillForm):
        pass

    if ask_company:
        Form.company = StringField(
            "Company (required)", validators=[Length(max=MAX_COMPANY)],
            description="The buyer's company: the document is made for it and named after it.",
            render_kw={"required": True, "maxlength": MAX_COMPANY, "autocomplete": "organization"})
    if deals is not None:
        Form.deal = SelectField(
            "Deal (optional)", validate_choice=False,
            description="The open deal this document is for: it counts towards the deal.")
    taken: set[str] = set()
    keys = {}
    for field in template_fields:
        if not field.is_company:
            keys[field.name] = _key(field.name, taken)
            setattr(Form, keys[field.name], _input(field))
    Form.field_keys = keys
    form = Form(**form_options)
    if deals is not None:
        form.deal.choices = choices([("", "No deal")] + [(str(d.id), d.label) for d in deals])
    return form


def typed_values(form: FillForm) -> dict[str, str]:
    """{template field name: what was typed}, for the fields the form asks."""
    return {name: form[key].data or "" for name, key in form.field_keys.items()}
