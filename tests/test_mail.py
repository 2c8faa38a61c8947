"""E-mail goes through a real SMTP server on loopback; without one, nothing is sent."""

from __future__ import annotations

import pytest

from content_library.mail import BadSmtpUrl, Letter, SmtpServer, send


def test_a_letter_reaches_the_smtp_server(smtp_server) -> None:
    url, inbox = smtp_server
    sent = send(url, "portal@example.com",
                Letter(to="cfo@acme.example", subject="Your business case",
                       text="Open https://portal.example/s/abc", reply_to="rep@example.com"),
                sender_name="Ana from Example")
    assert sent is True
    [message] = inbox.messages
    assert message["To"] == "cfo@acme.example"
    assert message["From"] == "Ana from Example <portal@example.com>"
    assert message["Reply-To"] == "rep@example.com"
    assert message["Subject"] == "Your business case"
    assert "https://portal.example/s/abc" in message.get_content()


def test_no_url_sends_nothing() -> None:
    assert send(None, "portal@example.com", Letter("a@b.example", "s", "t")) is False


def test_an_unreachable_server_is_reported_not_raised() -> None:
    # Port 9 on loopback: nothing listens, the connection is refused at once.
    assert send("smtp://127.0.0.1:9", "portal@example.com",
                Letter("a@b.example", "s", "t")) is False


@pytest.mark.parametrize("url", ["http://mail.example", "smtp://", "smtp://host:port"])
def test_a_bad_url_says_what_is_wrong(url: str) -> None:
    with pytest.raises(BadSmtpUrl):
        SmtpServer.from_url(url)


def test_url_credentials_are_decoded() -> None:
    server = SmtpServer.from_url("smtp+starttls://ana%40example.com:p%2Fw@mail.example")
    assert (server.host, server.port, server.username, server.password) == (
        "mail.example", 587, "ana@example.com", "p/w")
