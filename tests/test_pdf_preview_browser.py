"""In Chromium: a PDF that would run script is refused at upload; a clean one previews quietly.

Chromium's PDF viewer runs a document's JavaScript even under the preview's `sandbox` CSP
(issue 10 found an attacker's dialog that way), so the refusal at upload is what keeps a
preview inert. A dialog listener records anything a page or PDF tries to show.
"""

from __future__ import annotations

import pytest

from content_library import file_types
from tests.browser_support import chromium, live_server, need_browser
from tests.conftest import PASSWORD
from tests.test_active_pdf import ALERT, build_pdf

pytestmark = pytest.mark.browser

PDF_VIEWER = "chrome-extension://"


def fill_item_form(page, base: str, title: str, pdf: bytes) -> None:
    page.goto(base + "/library/new")
    page.get_by_label("Title").fill(title)
    page.get_by_label("Content type").select_option("case-study")
    page.get_by_label("External: may reach champions").check()
    page.get_by_label("Status").select_option("published")
    page.get_by_label("Understanding offerings").check()
    page.get_by_label("File").set_input_files(
        {"name": "deck.pdf", "mimeType": "application/pdf", "buffer": pdf})
    page.get_by_role("button", name="Create").click()
    page.wait_for_load_state()


def test_a_scripted_pdf_is_refused_and_a_clean_preview_runs_nothing(app, taxonomy, make_user):
    need_browser()
    _, email = make_user("manager")
    scripted = build_pdf(catalog=b"/OpenAction 6 0 R", extra={6: ALERT})
    with live_server(app) as base, chromium() as browser:
        page = browser.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(base + "/login")
        page.get_by_label("E-mail").fill(email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_load_state()

        fill_item_form(page, base, "Scripted deck", scripted)
        assert page.locator("#file-error").inner_text().strip() == \
            file_types.PDF_SCRIPT_MESSAGE
        assert page.get_by_label("Title").input_value() == "Scripted deck"

        fill_item_form(page, base, "Clean deck", build_pdf())
        assert "/content/clean-deck" in page.url
        page.goto(base + "/content/clean-deck/file?inline=1")
        # The viewer is open once its frame is there; a script would have run by then.
        for _ in range(50):
            if any(frame.url.startswith(PDF_VIEWER) for frame in page.frames):
                break
            page.wait_for_timeout(100)
        assert any(frame.url.startswith(PDF_VIEWER) for frame in page.frames)
        page.wait_for_timeout(1000)
        assert dialogs == []
