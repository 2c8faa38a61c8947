from __future__ import annotations

from datetime import date
from itertools import groupby

from flask import Blueprint, redirect, render_template, request, url_for

from content_library import visibility
from content_library.services import catalog
from content_library.services import taxonomy as taxonomy_service

from .. import stage_rankings
from ..access import requires, user
from ..extensions import db

bp = Blueprint("stages", __name__)


@bp.get("/")
def home():
    current = user()
    if current is None:
        return redirect(url_for("auth.login"))
    if not visibility.may(current, "browse_stages"):
        return redirect(url_for("champions.deal_room"))
    stages = taxonomy_service.stages(db.session)
    counts = taxonomy_service.published_counts_by_stage(db.session, visibility.published_filter(current))
    # Consecutive stages of one phase form a band, in the buyer's order.
    phases = [(phase, list(members)) for phase, members in groupby(stages, key=lambda s: s.phase)]
    return render_template("stages/home.html", stages=stages, phases=phases, counts=counts)


def _choice(name: str, options: list) -> str | None:
    value = request.args.get(name) or None
    return value if value in {o.slug for o in options} else None


@bp.get("/stages/<slug>")
@requires("browse_stages")
def stage(slug: str):
    session = db.session
    current_stage = taxonomy_service.get_stage(session, slug)
    choices = catalog.taxonomy_choices(session)
    context = catalog.DealContext(
        stage=slug,
        stakeholder=_choice("stakeholder", choices["stakeholders"]),
        solution=_choice("solution", choices["solutions"]),
        vertical=_choice("vertical", choices["verticals"]),
    )
    groups = catalog.playbook(session, user(), context, date.today(), stage_rankings.rankings())
    return render_template("stages/stage.html", stage=current_stage, groups=groups,
                           context=context, choices=choices)


@bp.get("/coverage")
@requires("view_library")
def coverage():
    choices = catalog.taxonomy_choices(db.session)
    solution = _choice("solution", choices["solutions"])
    vertical = _choice("vertical", choices["verticals"])
    matrix = catalog.coverage(db.session, solution=solution, vertical=vertical)
    return render_template("stages/coverage.html", matrix=matrix, choices=choices,
                           solution=solution, vertical=vertical)
