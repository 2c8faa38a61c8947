from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, TextAreaField
from wtforms.validators import InputRequired, Length

from content_library.services.usage import MAX_COMMENT

from ..form_choices import choices


class FeedbackForm(FlaskForm):
    useful = RadioField("Did this help?",
                        choices=choices([("yes", "Yes, it helped"), ("no", "Not really")]),
                        validators=[InputRequired("Say whether it helped.")])
    comment = TextAreaField("What would make it better? (optional)",
                            validators=[Length(max=MAX_COMMENT)])
    stage = HiddenField()
