"""The web side of the permission rules: every view asks content_library.visibility through these."""

from __future__ import annotations

from functools import wraps

from flask_login import current_user, login_required

from content_library import visibility
from content_library.errors import NotFound
from content_library.models import ContentItem
from content_library.services.items import get_item

from .extensions import db


def user():
    """The signed-in User, or None."""
    return current_user._get_current_object() if current_user.is_authenticated else None


def requires(action: str):
    """Log-in first, then the role must allow `action` (403 otherwise)."""

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            visibility.require(user(), action)
            return view(*args, **kwargs)

        return login_required(wrapper)

    return decorate


def readable_item(slug: str) -> ContentItem:
    """The item if this caller may read it; a missing item and a hidden one both raise NotFound."""
    try:
        item = get_item(db.session, slug)
    except NotFound:
        raise NotFound(slug) from None
    return visibility.require_read(user(), item)
