"""The ceiling for bench/load.py: a bare Flask app serving one fixed 5 KB page, run under the
same gunicorn settings as the portal (deploy/gunicorn.conf.py), so the portal's requests per
second can be read as a share of what this machine, this server and this client reach with
no work at all behind a page.

    gunicorn -c deploy/gunicorn.conf.py --pythonpath bench ceiling_app:app
"""

from flask import Flask

# Exactly 5 KB of HTML, made once: the size of a small portal page without its work.
_HEAD = "<!doctype html><html lang=en><head><meta charset=utf-8><title>Ceiling</title></head><body>\n"
_TAIL = "</body></html>\n"
_LINE = "<p>The same bytes every time, nothing read, nothing written.</p>\n"
_FILL = 5120 - len(_HEAD) - len(_TAIL)
PAGE = (_HEAD + _LINE * (_FILL // len(_LINE)) + " " * (_FILL % len(_LINE)) + _TAIL).encode()

app = Flask(__name__)


@app.get("/")
def page():
    return PAGE, 200, {"Content-Type": "text/html; charset=utf-8"}
