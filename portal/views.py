"""Registers each area's blueprint, and what every page's layout needs."""

from __future__ import annotations

from datetime import date

from flask import Flask
from flask_login import current_user

from content_library import visibility
from content_library.models import PHASE_NAMES, ROLE_NAMES, STATUS_NAMES
from content_library.services import taxonomy as taxonomy_service

from .extensions import db
from .library.forms import ConfirmForm


def init_app(app: Flask) -> None:
    from .admin.routes import bp as admin_bp
    from .analytics.routes import bp as analytics_bp
    from .api import analytics as _api_analytics  # noqa: F401 (its routes join the api blueprint)
    from .api import shares as _api_shares  # noqa: F401 (its routes join the api blueprint)
    from .api.reference import bp as api_reference_bp
    from .api.routes import bp as api_bp
    from .business_cases.routes import bp as business_cases_bp
    from .business_cases.routes import init_templates as init_business_case_templates
    from .champions.routes import bp as champions_bp
    from .deals.routes import bp as deals_bp
    from .deals.routes import init_templates as init_deal_templates
    from .library.routes import bp as library_bp
    from .requests.routes import bp as requests_bp
    from .review.routes import bp as review_bp
    from .search.routes import bp as search_bp
    from .stages.routes import bp as stages_bp

    for bp in (stages_bp, library_bp, search_bp, admin_bp, api_bp, deals_bp,
               requests_bp, analytics_bp, review_bp, api_reference_bp, business_cases_bp,
               champions_bp):
        app.register_blueprint(bp)
    init_deal_templates(app)
    init_business_case_templates(app)
    from . import shares

    shares.init_app(app)

    @app.context_processor
    def _layout():
        user = current_user._get_current_object() if current_user.is_authenticated else None

        def nav_stages():
            if not visibility.may(user, "browse_stages"):
                return []
            return taxonomy_service.stages(db.session)

        return {
            "nav_stages": nav_stages,
            "may": lambda action: visibility.may(user, action),
            # formdata=None: the layout never reads the request body (an error page for an
            # oversized upload would raise 413 again while rendering).
            "logout_form": lambda: ConfirmForm(formdata=None),
            "phase_names": PHASE_NAMES,
            "status_names": STATUS_NAMES,
            "role_names": ROLE_NAMES,
            "today": date.today(),
        }
