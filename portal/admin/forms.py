from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from content_library.models import PHASE_NAMES, ROLE_NAMES

from ..form_choices import choices

ROLE_CHOICES = choices(ROLE_NAMES.items())


class NewUserForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired("Enter an e-mail."), Length(max=254)])
    name = StringField("Name", validators=[DataRequired("Enter the person's name."),
                                           Length(max=200)])
    role = SelectField("Role", choices=ROLE_CHOICES, validate_choice=False, default="rep")
    company = StringField("Company", validators=[Length(max=200)],
                          description="Champions only: the buyer's company.")
    password = PasswordField("Password", description="8 to 128 characters; not a common one.")


class EditUserForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired("Enter the person's name."),
                                           Length(max=200)])
    role = SelectField("Role", choices=ROLE_CHOICES, validate_choice=False)
    company = StringField("Company", validators=[Length(max=200)])
    active = BooleanField("Active", description="Unticked: the person can no longer log in, and "
                                                "their sessions end at once.")
    new_password = PasswordField("Set a new password", validators=[Optional()])


class TagForm(FlaskForm):
    slug = StringField("Slug", validators=[Optional(), Length(max=120)],
                       description="Lowercase letters, digits and '-'. Left empty, it is made "
                                   "from the name.")
    name = StringField("Name", validators=[DataRequired("Enter a name."), Length(max=200)])
    description = TextAreaField("Description", validators=[Length(max=2000)])
    phase = SelectField("Phase", choices=choices(PHASE_NAMES.items()), validate_choice=False)
    buyer_goal = TextAreaField("Buyer goal", validators=[Length(max=2000)])
    exit_criteria = TextAreaField("Exit criteria", description="One per line.",
                                  validators=[Length(max=5000)])
