"""Sending e-mail through the SMTP server named by `PORTAL_SMTP_URL`, when there is one.

    smtp://host:25                      plain (a relay on the same network)
    smtp+starttls://user:pass@host:587  STARTTLS, then log in
    smtps://user:pass@host:465          TLS from the first byte

Without a URL nothing is sent and the pages show the link for the rep to copy instead. A
failure to send is reported to the caller, never raised at a page: the link still works.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr
from urllib.parse import unquote, urlsplit

_log = logging.getLogger(__name__)

SCHEMES = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}
TIMEOUT_SECONDS = 10


class BadSmtpUrl(ValueError):
    pass


@dataclass(frozen=True)
class SmtpServer:
    scheme: str
    host: str
    port: int
    username: str | None
    password: str | None

    @classmethod
    def from_url(cls, url: str) -> SmtpServer:
        parts = urlsplit(url)
        if parts.scheme not in SCHEMES:
            raise BadSmtpUrl(f"PORTAL_SMTP_URL must start with one of {', '.join(SCHEMES)}://")
        if not parts.hostname:
            raise BadSmtpUrl("PORTAL_SMTP_URL names no host")
        try:
            port = parts.port or SCHEMES[parts.scheme]
        except ValueError as exc:
            raise BadSmtpUrl("PORTAL_SMTP_URL has a port that is not a number") from exc
        return cls(parts.scheme, parts.hostname, port,
                   unquote(parts.username) if parts.username else None,
                   unquote(parts.password) if parts.password else None)


@dataclass(frozen=True)
class Letter:
    to: str
    subject: str
    text: str
    reply_to: str | None = None


def send(url: str | None, sender: str, letter: Letter, sender_name: str = "") -> bool:
    """Send one plain-text letter. True when the server accepted it; False when no server is
    configured or sending failed (logged without the letter's text, which holds links)."""
    if not url:
        return False
    server = SmtpServer.from_url(url)
    message = EmailMessage()
    message["From"] = formataddr((sender_name, sender)) if sender_name else sender
    message["To"] = letter.to
    message["Subject"] = letter.subject
    if letter.reply_to:
        message["Reply-To"] = letter.reply_to
    message.set_content(letter.text)
    try:
        if server.scheme == "smtps":
            client = smtplib.SMTP_SSL(server.host, server.port, timeout=TIMEOUT_SECONDS,
                                      context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(server.host, server.port, timeout=TIMEOUT_SECONDS)
        with client:
            if server.scheme == "smtp+starttls":
                client.starttls(context=ssl.create_default_context())
            if server.username:
                client.login(server.username, server.password or "")
            client.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        _log.warning("could not send e-mail to %s: %s", letter.to, type(exc).__name__)
        return False
    return True
