"""Entry point for WSGI servers and `flask --app wsgi`."""

from portal import create_app

app = create_app()
