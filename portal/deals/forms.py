from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import HiddenField, RadioField, SelectField, StringField
from wtforms.validators import Length

from ..form_choices import choices


class DealsImportForm(FlaskForm):
    crm_format = RadioField("Which CRM wrote the file", default="salesforce", choices=choices([
        ("salesforce", "Salesforce: an Opportunities export (API names or report labels)"),
        ("hubspot", "HubSpot: a deals export"),
    ]))
    deals = FileField("Deals export (CSV)")
    history = FileField("Salesforce OpportunityHistory export (CSV, optional)",
                        description="When each deal entered each stage: stage analytics need it.")
    # The files of a preview, kept on the server until the manager confirms the import.
    staged = HiddenField()


class UseInDealForm(FlaskForm):
    deal = SelectField("Open deal", validate_choice=False)
    stage = HiddenField()
    next = HiddenField()


class DealFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET that only narrows a list

    q = StringField("Find a deal by name or account", validators=[Length(max=100)])
