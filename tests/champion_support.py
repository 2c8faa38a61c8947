"""Share links made straight through the models, for the tests of what a champion may see.

(The share-link pages and service are built elsewhere; these tests need only the rows.)
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import select

from content_library.models import ContentItem, ShareLink, User, share_link_items, utcnow
from portal.extensions import db


def share(app, slugs, *, by: str, to: str = "buyer@example.com", company: str = "",
          deal_id: int | None = None, note: str = "", days: float = 14,
          revoked: bool = False) -> str:
    """A share link from the rep `by` (an e-mail) of these items; returns its token."""
    token = secrets.token_urlsafe(32)
    with app.app_context():
        session = db.session
        rep = session.scalar(select(User).where(User.email == by))
        link = ShareLink(token_hash=hashlib.sha256(token.encode()).hexdigest(),
                         created_by_id=rep.id, deal_id=deal_id, recipient_email=to,
                         company=company, note=note,
                         expires_at=utcnow() + timedelta(days=days),
                         revoked_at=utcnow() if revoked else None)
        session.add(link)
        session.flush()
        for position, slug in enumerate(slugs):
            item_id = session.scalar(select(ContentItem.id).where(ContentItem.slug == slug))
            session.execute(share_link_items.insert().values(share_id=link.id, item_id=item_id,
                                                             position=position))
        session.commit()
    return token
