"""Promise 4: uploads are inert, and the download rules of SECURITY.md.

Everything goes through the manager's real form (/library/new, multipart, with its CSRF
token) and comes back through /content/<slug>/file. The upload cap is made small so that a
"too large" file is cheap to send.
"""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path
from urllib.parse import quote

import pytest
from pypdf import PdfWriter
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from content_library.models import ContentItem, StoredFile
from portal.extensions import db
from tests.champion_support import share
from tests.conftest import log_in, page_token

CAP = 10_000


@pytest.fixture
def app_config(app_config):
    return {**app_config, "MAX_UPLOAD_BYTES": CAP}


def pdf_bytes() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=120, height=120)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def png_bytes() -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\x00")) + chunk(b"IEND", b""))


MP4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomavc1" + b"\x00\x00\x00\x08free"


@pytest.fixture
def manager(app, taxonomy, make_user, login):
    _, email = make_user("manager")
    return login(email)


def form(client, filename: str, data: bytes, **fields) -> dict:
    return {
        "csrf_token": page_token(client, "/library/new"), "title": "Quarterly deck",
        "summary": "The numbers, for the CFO.", "type": "case-study", "audience": "external",
        "status": "published", "stages": "understanding-offerings",
        "file": (io.BytesIO(data), filename), **fields,
    }


def upload(client, filename: str, data: bytes, **fields):
    return client.post("/library/new", data=form(client, filename, data, **fields),
                       content_type="multipart/form-data")


def files_on_disk(app) -> list[Path]:
    root = Path(app.config["UPLOAD_DIR"])
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def counts(app) -> tuple[int, int]:
    with app.app_context():
        return (db.session.scalar(select(func.count()).select_from(ContentItem)),
                db.session.scalar(select(func.count()).select_from(StoredFile)))


def file_error(page: str) -> str:
    match = re.search(r'<p class="error" id="file-error">([^<]+)</p>', page)
    assert match, "no message beside the file field"
    return match.group(1)


def fetch(client, path: str, **kwargs):
    response = client.get(path, **kwargs)
    response.get_data()
    response.close()
    return response


# ---- refused uploads -------------------------------------------------------------------------

REFUSED = {
    "html named deck.pdf": ("deck.pdf", b"<!doctype html><html><script>alert(1)</script></html>"),
    "svg named logo.png": ("logo.png", b'<svg xmlns="http://www.w3.org/2000/svg" '
                                       b'onload="alert(1)"><circle r="4"/></svg>'),
    "shell script named run.pdf": ("run.pdf", b"#!/bin/sh\necho hi\n"),
    "html named .docx": ("deck.docx", b"<html><body onload=alert(1)></body></html>"),
    "plain zip named .docx": ("deck.docx", b"PK\x05\x06" + b"\x00" * 18),
    "empty file": ("empty.pdf", b""),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_file_that_is_not_what_its_name_says_is_refused(app, manager, case):
    filename, data = REFUSED[case]
    response = upload(manager, filename, data)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    message = file_error(page)
    assert "not" in message or "empty" in message or "damaged" in message
    assert 'value="Quarterly deck"' in page  # the rest of the typed form is kept
    assert "The numbers, for the CFO." in page
    assert counts(app) == (0, 0)
    assert files_on_disk(app) == []


def test_a_file_over_the_cap_is_refused_with_a_clear_message(app, manager):
    data = b"%PDF-1.4\n" + b"0" * (CAP * 2)
    response = upload(manager, "big.pdf", data)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "larger than" in file_error(page)
    assert 'value="Quarterly deck"' in page
    assert counts(app) == (0, 0)
    assert files_on_disk(app) == []


def test_a_request_far_over_the_cap_is_cut_off_before_it_is_read(app, manager):
    data = b"%PDF-1.4\n" + b"0" * (CAP + 1024 * 1024 + 10)
    # Encoded here, in memory: the test client would spool a body this big to a temporary
    # file and never close it.
    fields = form(manager, "huge.pdf", data)
    fields["file"] = FileStorage(io.BytesIO(data), filename="huge.pdf",
                                 content_type="application/pdf")
    boundary, body = encode_multipart(fields)
    assert len(body) > CAP + 1024 * 1024
    response = manager.post("/library/new", data=body,
                            content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "too large" in page or "exceeds the capacity" in page
    assert "Traceback" not in page
    assert counts(app) == (0, 0)
    assert files_on_disk(app) == []


def test_a_refused_form_keeps_no_file_row(app, manager):
    """Another field refused: the chosen file is not kept, and the form says to choose it again."""
    response = upload(manager, "deck.pdf", pdf_bytes(), stages="no-such-stage")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "again" in file_error(page)
    assert counts(app) == (0, 0)


# ---- accepted uploads ------------------------------------------------------------------------


def test_an_accepted_pdf_is_stored_by_its_hash_not_its_name(app, manager):
    data = pdf_bytes()
    response = upload(manager, "../../../etc/Quarterly deck.pdf", data, slug="deck")
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    sha = hashlib.sha256(data).hexdigest()
    stored = files_on_disk(app)
    root = Path(app.config["UPLOAD_DIR"]).resolve()
    assert [p.resolve() for p in stored] == [root / sha[:2] / sha]
    assert stored[0].read_bytes() == data
    assert not any("deck" in p.name.lower() or p.suffix for p in stored)
    with app.app_context():
        item = db.session.scalar(select(ContentItem).where(ContentItem.slug == "deck"))
        assert item.file.sha256 == sha and item.file.kind == "pdf"
        assert item.file_name == "Quarterly deck.pdf"  # the folders in the name are dropped
    # The upload folder is not served: no URL under /static or elsewhere reaches it.
    assert manager.get(f"/static/{sha}").status_code == 404
    assert manager.get(f"/files/{sha[:2]}/{sha}").status_code == 404


def test_the_type_comes_from_the_bytes(app, manager):
    response = upload(manager, "photo.pdf", png_bytes(), slug="photo")
    assert response.status_code == 302
    download = fetch(manager, "/content/photo/file")
    assert download.mimetype == "image/png"
    assert re.search(r"filename=\"?photo\.png\"?;", download.headers["Content-Disposition"] + ";")


# ---- downloads -------------------------------------------------------------------------------


def test_download_is_an_attachment_with_an_encoded_name(app, manager):
    name = "Résumé d’équipe.pdf"
    assert upload(manager, name, pdf_bytes(), slug="resume").status_code == 302
    response = fetch(manager, "/content/resume/file")
    assert response.status_code == 200
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert f"filename*=UTF-8''{quote(name, safe='!#$&+-.^_`|~')}" in disposition
    ascii_name = re.search(r'filename="([^"]*)"', disposition).group(1)
    assert ascii_name.isascii() and ascii_name.endswith(".pdf")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.mimetype == "application/pdf"


def test_a_hostile_file_name_cannot_reach_the_headers(app, manager):
    name = 'deck"; filename=evil.html\r\nX-Injected: 1.pdf'
    assert upload(manager, name, pdf_bytes(), slug="hostile-name").status_code == 302
    response = fetch(manager, "/content/hostile-name/file")
    assert "X-Injected" not in response.headers
    disposition = response.headers["Content-Disposition"]
    assert "\r" not in disposition and "\n" not in disposition
    assert disposition.startswith("attachment;")
    assert not re.search(r'filename="?evil\.html', disposition)


def test_pdf_preview_is_inline_under_a_sandbox(app, manager):
    assert upload(manager, "deck.pdf", pdf_bytes(), slug="deck").status_code == 302
    response = fetch(manager, "/content/deck/file?inline=1")
    assert response.headers["Content-Disposition"].startswith("inline")
    csp = response.headers["Content-Security-Policy"]
    assert csp.split(";")[0].strip() == "sandbox"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"


def test_a_video_is_never_shown_inline(app, manager):
    assert upload(manager, "demo.mp4", MP4, slug="demo").status_code == 302
    response = fetch(manager, "/content/demo/file?inline=1")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment")


def test_a_champion_cannot_download_an_internal_file(app, manager, make_user):
    assert upload(manager, "internal.pdf", pdf_bytes(), slug="internal-deck",
                  audience="internal").status_code == 302
    assert upload(manager, "external.pdf", pdf_bytes() + b"\n%", slug="external-deck",
                  audience="external").status_code == 302
    _, champion = make_user("champion")
    _, rep = make_user("rep")
    share(app, ["internal-deck", "external-deck"], by=rep, to=champion)
    for email, allowed in ((champion, {"external-deck"}),
                           (rep, {"external-deck", "internal-deck"})):
        client = app.test_client()
        log_in(client, email)
        for slug in ("internal-deck", "external-deck"):
            for query in ("", "?inline=1"):
                response = fetch(client, f"/content/{slug}/file{query}")
                if slug in allowed:
                    assert response.status_code == 200
                else:
                    assert response.status_code == 404
                    assert not response.data.startswith(b"%PDF")


def test_replacing_a_file_with_a_refused_one_keeps_the_old(app, manager):
    data = pdf_bytes()
    assert upload(manager, "deck.pdf", data, slug="deck").status_code == 302
    token = page_token(manager, "/content/deck/edit")
    with app.app_context():
        version = db.session.scalar(select(ContentItem.version).where(ContentItem.slug == "deck"))
    response = manager.post("/content/deck/edit", content_type="multipart/form-data", data={
        "csrf_token": token, "title": "Quarterly deck", "slug": "deck", "type": "case-study",
        "audience": "external", "status": "published", "stages": "understanding-offerings",
        "version": str(version), "file": (io.BytesIO(REFUSED["html named deck.pdf"][1]), "x.pdf"),
    })
    assert response.status_code == 400
    assert fetch(manager, "/content/deck/file").data == data


def test_a_good_file_on_a_form_refused_for_another_field_leaves_nothing_on_disk(app, manager):
    response = upload(manager, "deck.pdf", pdf_bytes(), stages="")
    assert response.status_code == 400 and "Choose at least one stage." in response.get_data(
        as_text=True)
    assert "Choose the file again" in file_error(response.get_data(as_text=True))
    assert counts(app) == (0, 0)
    assert files_on_disk(app) == []


CONTROL_CHARACTERS = {
    "right-to-left override": "\u202e",
    "C1 control NEL": "\x85",
    "C1 control CSI": "\x9b",
    "line separator": "\u2028",
    "paragraph separator": "\u2029",
    "zero-width space": "\u200b",
    "C0 control": "\x07",
}


@pytest.mark.parametrize("case", sorted(CONTROL_CHARACTERS))
def test_a_download_name_keeps_no_control_characters(app, manager, case):
    char = CONTROL_CHARACTERS[case]
    name = f"invoice{char}fdp.exe{char}.pdf"
    assert upload(manager, name, pdf_bytes(), slug="named").status_code == 302
    with app.app_context():
        stored = db.session.scalar(select(ContentItem.file_name)
                                   .where(ContentItem.slug == "named"))
    assert stored == "invoicefdp.exe.pdf"
    disposition = fetch(manager, "/content/named/file").headers["Content-Disposition"]
    assert quote(char) not in disposition and char not in disposition


@pytest.mark.parametrize("case", sorted(CONTROL_CHARACTERS))
def test_a_name_stored_before_names_were_cleaned_is_cleaned_on_the_way_out(app, manager, case):
    char = CONTROL_CHARACTERS[case]
    assert upload(manager, "deck.pdf", pdf_bytes(), slug="old-name").status_code == 302
    with app.app_context():
        item = db.session.scalar(select(ContentItem).where(ContentItem.slug == "old-name"))
        item.file_name = f"deck{char}fdp.exe{char}.pdf"
        db.session.commit()
    disposition = fetch(manager, "/content/old-name/file").headers["Content-Disposition"]
    assert quote(char) not in disposition and char not in disposition
    assert "deckfdp.exe.pdf" in disposition


def test_a_pdf_that_runs_script_is_refused_and_nothing_is_kept(app, manager):
    from content_library.file_types import PDF_SCRIPT_MESSAGE
    from tests.test_active_pdf import ALERT, build_pdf

    response = upload(manager, "deck.pdf", build_pdf(catalog=b"/OpenAction 6 0 R",
                                                     extra={6: ALERT}))
    assert response.status_code == 400
    assert file_error(response.get_data(as_text=True)) == PDF_SCRIPT_MESSAGE
    assert counts(app) == (0, 0)
    assert files_on_disk(app) == []
