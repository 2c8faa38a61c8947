from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, SelectField, TextAreaField
from wtforms.validators import Length

from ..form_choices import choices


class RequestForm(FlaskForm):
    stage = SelectField("Deal stage", validate_choice=False,
                        description="Where the buyer is when you would use it.")
    stakeholder = SelectField("Stakeholder", validate_choice=False,
                              description="Who you are meeting.")
    message = TextAreaField("What do you need, and what for?", validators=[Length(max=2000)],
                            description="E.g. a one-page ROI summary the CFO can forward to "
                                        "the board.")
    query = HiddenField()
    item = HiddenField()  # the item page the rep asked from


class DecisionForm(FlaskForm):
    status = RadioField("Decision", choices=choices([
        ("accepted", "Accept: we will make it"),
        ("declined", "Decline (say why)"),
        ("completed", "Complete: this item answers it"),
    ]), validate_choice=False)
    answer = SelectField("Item that answers it", validate_choice=False)
    note = TextAreaField("Note to the rep", validators=[Length(max=2000)])
