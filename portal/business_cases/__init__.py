"""Business-case templates on the web: the fill-in form that answers the filled document, and the
managers' field editor. The form (forms.fill_form, routes.filled_from_form and the
business_cases/_fill_form.html macro) is meant to be reused wherever a template is offered."""
