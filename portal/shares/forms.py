from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import Length
from wtforms.widgets import NumberInput

from content_library.models import SHARE_DAYS_MAX, SHARE_DAYS_MIN
from content_library.services.share_links import DEFAULT_DAYS, MAX_NOTE

from ..library.forms import CheckboxList

# A number box (the phone shows digits); the portal still reads whatever is typed and says so
# in words when it is not a number of days.
DAYS = NumberInput(min=SHARE_DAYS_MIN, max=SHARE_DAYS_MAX)
DAYS_HELP = f"From {SHARE_DAYS_MIN} to {SHARE_DAYS_MAX} days. After that the link shows nothing."


class ShareForm(FlaskForm):
    items = CheckboxList("Items to share")
    recipient = StringField("Recipient's e-mail", validators=[Length(max=254)],
                            description="Who you send the link to, e.g. the buyer's champion.")
    deal_q = StringField("Find a deal by name or account", validators=[Length(max=100)])
    deal = SelectField("Open deal", validate_choice=False,
                       description="Opens and downloads through the link count for this deal.")
    expires_in_days = StringField("The link works for (days)", default=str(DEFAULT_DAYS),
                                  validators=[Length(max=12)], description=DAYS_HELP,
                                  widget=DAYS)
    note = TextAreaField("A short note to the recipient", validators=[Length(max=MAX_NOTE)],
                         description="Shown at the top of the shared page (and in the e-mail).")
    allow_downloads = BooleanField("Let them download the files", default=True)
    send_email = BooleanField("E-mail the link to the recipient", default=True)


class ExtendForm(FlaskForm):
    expires_in_days = StringField("New expiry: days from today", default=str(DEFAULT_DAYS),
                                  validators=[Length(max=12)], description=DAYS_HELP,
                                  widget=DAYS)
