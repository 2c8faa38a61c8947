from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from content_library.passwords import MAX_LENGTH, MIN_LENGTH


class InvitationForm(FlaskForm):
    email = EmailField("Buyer's e-mail", validators=[DataRequired("Enter the buyer's e-mail."),
                                                     Length(max=254)])
    name = StringField("Their name", validators=[Length(max=200)],
                       description="Optional: the invitation greets them by it.")
    deal_filter = StringField("Find a deal by name or account", validators=[Length(max=100)])
    deal = SelectField("Their deal", validate_choice=False,
                       description="Optional. Picking a deal fills in its account as the company.")
    company = StringField("Their company", validators=[Length(max=200)],
                          description="Every champion of this company sees what you share with "
                                      "the company.")


class AcceptForm(FlaskForm):
    name = StringField("Your name", validators=[DataRequired("Enter your name."), Length(max=200)])
    password = PasswordField(
        "Choose a password", validators=[DataRequired("Choose a password.")],
        description=f"{MIN_LENGTH} to {MAX_LENGTH} characters; a few words strung together are "
                    "easy to remember and hard to guess.")
    repeat = PasswordField("Type it again", validators=[
        DataRequired("Type the password again."),
        EqualTo("password", "The two passwords differ: type them again.")])
