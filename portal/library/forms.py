from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.validators import DataRequired, Length, Optional

from content_library.models import ARGUMENT_PARTS, STATUS_NAMES

from ..form_choices import choices


class CheckboxList(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()

    def pre_validate(self, form):
        pass  # unknown values are the service's to reject, with a sentence


class ItemForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired("Enter a title."), Length(max=300)])
    slug = StringField("Slug", validators=[Optional(), Length(max=120)],
                       description="Lowercase letters, digits and '-'. Left empty, it is made "
                                   "from the title.")
    summary = TextAreaField("Summary", validators=[Length(max=1000)],
                            description="One or two sentences shown in lists.")
    type = SelectField("Content type", validate_choice=False)
    audience = RadioField("Audience", choices=choices([
        ("internal", "Internal: staff only"),
        ("external", "External: may reach champions"),
    ]), default="internal")
    status = SelectField("Status", choices=choices(STATUS_NAMES.items()), default="draft")
    stages = CheckboxList("Stages")
    stakeholders = CheckboxList("Stakeholders", description="None: for every stakeholder.")
    solutions = CheckboxList("Solutions", description="None: for every solution.")
    verticals = CheckboxList("Verticals", description="None: for every vertical.")
    owner = SelectField("Owner", validate_choice=False,
                        description="Whoever keeps this item fresh.")
    review_by = DateField("Review by", validators=[Optional()],
                          description="After this date the item is marked stale.")
    body = TextAreaField("Body (Markdown)")
    file = FileField("File", description="PDF, Word, PowerPoint, Excel, PNG, JPEG or MP4; "
                                         "up to 50 MB.")
    remove_file = BooleanField("Remove the current file")
    note = StringField("Change note", validators=[Length(max=500)],
                       description="What changed and why: shown in the history.")
    version = HiddenField()


for _name, _heading, _is_list in ARGUMENT_PARTS:
    setattr(ItemForm, f"argument_{_name}", TextAreaField(
        _heading, description="One per line." if _is_list else None))


class StatusForm(FlaskForm):
    status = HiddenField(validators=[DataRequired()])
    note = StringField("Note", validators=[Length(max=500)],
                       description="Why: shown in the history.")
    replaced_by = SelectField("Replaced by", validate_choice=False,
                              description="Reps who open this item through an old link are pointed to it.")


class ConfirmForm(FlaskForm):
    """A form with nothing but its CSRF token, for one-button actions."""
