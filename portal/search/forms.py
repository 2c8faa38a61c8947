from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, TextAreaField
from wtforms.validators import Length


class ContentRequestForm(FlaskForm):
    query = HiddenField()
    filters = HiddenField()
    message = TextAreaField("What do you need?", validators=[Length(max=2000)],
                            description="Who you are meeting, at which stage, and what would help.")


class SynonymForm(FlaskForm):
    terms = TextAreaField("Words that mean the same", validators=[Length(max=1000)],
                          description="Separate them with '=' or ',', e.g. ROI = return on investment.")
