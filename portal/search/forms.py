from __future__ import annotations

import json

from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, TextAreaField
from wtforms.validators import Length

from content_library.services.content_requests import single_filter
from content_library.services.taxonomy import ordered

from ..extensions import db
from ..form_choices import tag_choices


class ContentRequestForm(FlaskForm):
    query = HiddenField()
    filters = HiddenField()
    stage = SelectField("Deal stage", validate_choice=False)
    stakeholder = SelectField("Stakeholder", validate_choice=False)
    message = TextAreaField("What do you need, and what for?", validators=[Length(max=2000)],
                            description="Who you are meeting, at which stage, and what would help.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.stage.choices = tag_choices(ordered(db.session, "stages"), "Any stage")
        self.stakeholder.choices = tag_choices(ordered(db.session, "stakeholders"),
                                               "Any stakeholder")
        if not self.is_submitted() and self.filters.data:
            # A search narrowed to one stage or stakeholder already says which one is meant.
            searched = json.loads(self.filters.data)
            self.stage.data = single_filter(searched, "stage")
            self.stakeholder.data = single_filter(searched, "stakeholder")


class SynonymForm(FlaskForm):
    terms = TextAreaField("Words that mean the same", validators=[Length(max=1000)],
                          description="Separate them with '=' or ',', e.g. ROI = return on investment.")
