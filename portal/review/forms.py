from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField, TextAreaField
from wtforms.validators import Length


class ActionForm(FlaskForm):
    # The service checks the values and names every problem; the form only caps lengths
    # so a refused form comes back with what was typed.
    text = TextAreaField("What was agreed", validators=[Length(max=1000)])
    owner = StringField("Owner", validators=[Length(max=120)],
                        description="Who will do it: a name or an e-mail.")
    due = StringField("Due", validators=[Length(max=20)],
                      description="A date like 2026-12-15; may stay empty.")


class ActionStatusForm(FlaskForm):
    status = HiddenField()
