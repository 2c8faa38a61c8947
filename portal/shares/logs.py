"""Share-link tokens never reach a log: the access logs (Werkzeug's, Gunicorn's) print each
request's path, and a share page's path is `/s/<token>…`. A filter on those loggers hides
the token before any handler formats the line."""

from __future__ import annotations

import logging
import re

# `/s/` then the token, up to the next `/`, `?`, `#`, space or quote: in a path, a request
# line, a query string (`?next=/s/…`) or a Referer header alike.
_TOKEN = re.compile(r"(/s/)[^/?#\s\"']+")
HIDDEN = "[token hidden]"
# The loggers that print request paths: Werkzeug's development server, Gunicorn's access log
# (and its error log, which names the path of a request that failed).
ACCESS_LOGGERS = ("werkzeug", "gunicorn.access", "gunicorn.error")


def hide_tokens(text: str) -> str:
    return _TOKEN.sub(r"\1" + HIDDEN, text)


class HideShareTokens(logging.Filter):
    """Rewrites a record whose message holds a share path; lets every record through."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the logging module's to report
            return True
        hidden = hide_tokens(message)
        if hidden != message:
            record.msg, record.args = hidden, ()
        return True


def install(names: tuple[str, ...] = ACCESS_LOGGERS) -> None:
    """Put the filter on each logger once, however many apps a process creates."""
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, HideShareTokens) for f in logger.filters):
            logger.addFilter(HideShareTokens())
