"""bench/load.py's users post the item form the way a browser would: the fields read back from
the edit page (with a multi-line body, checked stages, chosen selects) save a new version with
only the summary changed."""

from __future__ import annotations

from urllib.parse import urlencode

from bench import load_forms
from content_library.models import ContentItem
from portal.extensions import db


def test_the_form_read_back_saves_a_new_version_with_only_the_summary_changed(
        app, make_user, make_item, login):
    make_item("roi-story", summary="Payback in a year.", body="First line\n\nSecond paragraph",
              stages=("understanding-offerings", "negotiating"), stakeholders=("cfo",))
    _, email = make_user("manager")
    client = login(email)
    page = client.get("/content/roi-story/edit").get_data(as_text=True)
    fields = dict(load_forms.item_form(page))
    assert fields["body"] == "First line\n\nSecond paragraph"  # no line break added in front
    sent = [(name, value + " lb1" if name == "summary" else value)
            for name, value in load_forms.item_form(page)]
    assert [value for name, value in sent if name == "stages"] == ["understanding-offerings", "negotiating"]

    answer = client.post("/content/roi-story/edit", data=urlencode(sent),
                         content_type="application/x-www-form-urlencoded")

    assert answer.status_code == 302 and answer.headers["Location"].endswith("/content/roi-story")
    with app.app_context():
        item = db.session.query(ContentItem).filter_by(slug="roi-story").one()
        assert item.version == 2 and item.summary == "Payback in a year. lb1"
        assert item.body == "First line\n\nSecond paragraph"
        assert sorted(stage.slug for stage in item.stages) == ["negotiating", "understanding-offerings"]
        assert [stakeholder.slug for stakeholder in item.stakeholders] == ["cfo"]
