"""Creating people, checking who they are, and the API tokens they use."""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ..database import SQLITE_BUSY_MS, begin_write
from ..errors import Invalid, NotFound
from ..models import ROLES, ApiToken, LoginFailure, User, utcnow
from ..passwords import check_strength, hash_password, needs_rehash, verify_password
from . import throttle
from .throttle import Throttled  # noqa: F401 (what the log-in page catches)

EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
THROTTLE_WINDOW = throttle.WINDOW
THROTTLE_LIMIT = 10  # failures per account, and per address, within the window
TOKEN_DAYS = 90  # an API token's default lifetime
LAST_USED_EVERY = timedelta(minutes=1)  # how stale a token's "last used" may get
BUSY_WAIT_MS = 200  # noting a token's use waits this long for a busy database, then skips it

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NewUser:
    email: str
    name: str
    role: str
    password: str
    company: str = ""


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def find_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == normalise_email(email)))


def validate_new_user(session: Session, data: NewUser) -> dict[str, str]:
    errors: dict[str, str] = {}
    email = normalise_email(data.email)
    if not EMAIL.match(email) or len(email) > 254:
        errors["email"] = "Enter a valid e-mail address, like name@company.com."
    elif find_by_email(session, email):
        errors["email"] = "A user with this e-mail already exists."
    if not data.name.strip():
        errors["name"] = "Enter the person's name."
    elif len(data.name) > 200:
        errors["name"] = "Use at most 200 characters."
    if data.role not in ROLES:
        errors["role"] = f"Choose a role: {', '.join(ROLES)}."
    if data.role == "champion" and not data.company.strip():
        errors["company"] = "A champion needs the name of their company."
    try:
        check_strength(data.password, email)
    except Invalid as exc:
        errors.update(exc.reasons)
    return errors


def create_user(session: Session, data: NewUser) -> User:
    begin_write(session)
    user = add_user(session, data)
    session.commit()
    return user


def add_user(session: Session, data: NewUser) -> User:
    """The new person, added to the caller's write transaction (not committed); every
    reason to refuse them raises Invalid, the transaction rolled back."""
    errors = validate_new_user(session, data)
    if errors:
        session.rollback()
        raise Invalid(errors)
    user = User(
        email=normalise_email(data.email),
        name=data.name.strip(),
        role=data.role,
        company=data.company.strip() if data.role == "champion" else "",
        password_hash=hash_password(data.password),
    )
    session.add(user)
    return user


class AccountInactive(Exception):
    """The right password for an account an administrator has deactivated."""


def _throttle_keys(email: str, address: str) -> list[str]:
    return [f"account:{normalise_email(email)}", f"address:{address}"]


def _record_attempt(session: Session, keys: list[str]) -> list[LoginFailure]:
    """Count this attempt as a failure *before* its password is checked, in one atomic step
    with the limit check: a burst of simultaneous guesses gets at most THROTTLE_LIMIT checks.
    A successful log-in takes its record back. Raises Throttled when a key is at the limit."""
    return throttle.take_turn(session, [throttle.Limit(key, THROTTLE_LIMIT) for key in keys],
                              what="failed log-ins")


def count_guess(session: Session, key: str) -> list[LoginFailure]:
    """Count one guess at a secret (an invitation link, say) under `key`, as a failed log-in
    is counted; raises Throttled once `key` has THROTTLE_LIMIT failures in the window. A
    right guess takes its record back with `forgive`."""
    return _record_attempt(session, [key])


def forgive(session: Session, attempt: list[LoginFailure]) -> None:
    begin_write(session)
    session.execute(delete(LoginFailure).where(LoginFailure.id.in_([row.id for row in attempt])))
    session.commit()


def authenticate(session: Session, email: str, password: str, address: str) -> User | None:
    """The user for these credentials, or None; the same answer and about the same time
    for an unknown e-mail and a wrong password. Raises Throttled after too many failures,
    counted per account and per address."""
    keys = _throttle_keys(email, address)
    attempt = _record_attempt(session, keys)
    user = find_by_email(session, email)
    ok = verify_password(user.password_hash if user else None, password)
    if ok and user is not None and not user.active:
        # Only someone who knows the password learns that the account exists, and why
        # it cannot log in.
        session.rollback()  # the attempt stays recorded as a failure
        raise AccountInactive()
    if not ok or user is None:
        session.rollback()  # the attempt stays recorded as a failure
        return None
    begin_write(session)
    session.execute(delete(LoginFailure).where(
        (LoginFailure.key == keys[0]) | LoginFailure.id.in_([row.id for row in attempt])))
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    session.commit()
    return user


def end_sessions(session: Session, user: User) -> None:
    """Every session cookie issued to this user so far stops working."""
    begin_write(session)
    user.session_version += 1
    session.commit()


def _revoke_tokens(session: Session, user: User, token_id: int | None = None) -> int:
    """Revoke the person's tokens (or one of them) within the caller's write transaction."""
    condition = (ApiToken.user_id == user.id) & ApiToken.revoked.is_(False)
    if token_id is not None:
        condition &= ApiToken.id == token_id
    return session.execute(update(ApiToken).where(condition).values(revoked=True)).rowcount


def change_password(session: Session, user: User, current: str, new: str) -> None:
    if not verify_password(user.password_hash, current):
        raise Invalid({"current_password": "That is not your current password."})
    check_strength(new, user.email)
    begin_write(session)
    user.password_hash = hash_password(new)
    user.session_version += 1
    _revoke_tokens(session, user)  # a stolen password may have made tokens too
    session.commit()


def validate_edit(user: User, *, name: str, role: str, company: str = "",
                  new_password: str = "") -> dict[str, str]:
    """Every reason an admin's edit of this person would be refused, by field."""
    errors: dict[str, str] = {}
    if not name.strip():
        errors["name"] = "Enter the person's name."
    if role not in ROLES:
        errors["role"] = f"Choose a role: {', '.join(ROLES)}."
    if role == "champion" and not company.strip():
        errors["company"] = "A champion needs the name of their company."
    if new_password:
        try:
            check_strength(new_password, user.email)
        except Invalid as exc:
            errors.update(exc.reasons)
    return errors


def update_user(session: Session, user: User, *, name: str, role: str, active: bool,
                company: str = "", new_password: str = "") -> User:
    """Save the admin's edit of a person, all of it or, when anything is refused, none of it.
    A new password or a deactivation ends their sessions and their API tokens for good."""
    errors = validate_edit(user, name=name, role=role, company=company,
                           new_password=new_password)
    if errors:
        raise Invalid(errors)
    begin_write(session)
    deactivated = user.active and not active
    if user.role != role or deactivated or new_password:
        user.session_version += 1
    if deactivated or new_password:
        _revoke_tokens(session, user)
    if new_password:
        user.password_hash = hash_password(new_password)
    user.name, user.role, user.active = name.strip(), role, active
    user.company = company.strip() if role == "champion" else ""
    session.commit()
    return user


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, email: str, days: int = TOKEN_DAYS) -> str:
    """A new API token for this user, valid for `days`; only its hash is stored, so this is
    the one chance to see it."""
    user = find_by_email(session, email)
    if user is None:
        raise NotFound(f"No user with the e-mail {email}.")
    token = "pt_" + secrets.token_urlsafe(32)
    begin_write(session)
    session.add(ApiToken(user_id=user.id, token_hash=_token_hash(token),
                         expires_at=utcnow() + timedelta(days=days)))
    session.commit()
    return token


def live_tokens(session: Session, user: User) -> list[ApiToken]:
    """The person's tokens that still work, newest first."""
    return list(session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked.is_(False),
                               ApiToken.expires_at > utcnow())
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())))


def revoke_tokens(session: Session, user: User, token_id: int | None = None) -> int:
    """Revoke every token of the person, or only the one named; how many were revoked.
    Naming a token that is not theirs, or is already revoked, is NotFound."""
    if token_id is not None and not 0 < token_id < 2**31:  # beyond the id column: no token
        raise NotFound(token_id)
    begin_write(session)
    revoked = _revoke_tokens(session, user, token_id)
    if token_id is not None and not revoked:
        session.rollback()
        raise NotFound(token_id)
    session.commit()
    return revoked


def _note_use(session: Session, row: ApiToken) -> None:
    """Remember when a token was last used: at most once a minute, in its own short
    transaction, and never at the price of the request: a busy database just skips it."""
    now = utcnow()
    if row.last_used_at is not None and now - row.last_used_at < LAST_USED_EVERY:
        return
    try:
        with session.get_bind().connect() as conn:
            sqlite = conn.dialect.name == "sqlite"
            raw = conn.connection.driver_connection
            if sqlite:  # a connection-wide setting, put back before the pool gets it again
                raw.execute(f"PRAGMA busy_timeout={BUSY_WAIT_MS}")
            else:
                conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{BUSY_WAIT_MS}ms'")
            try:
                conn.execute(update(ApiToken).where(
                    ApiToken.id == row.id,
                    or_(ApiToken.last_used_at.is_(None),
                        ApiToken.last_used_at < now - LAST_USED_EVERY),
                ).values(last_used_at=now))
                conn.commit()
            finally:
                if sqlite:
                    raw.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
    except SQLAlchemyError as exc:
        log.info("API token %s: last use not recorded (%s)", row.id, type(exc).__name__)


def user_for_token(session: Session, token: str) -> User | None:
    if not token or len(token) > 200:
        return None
    row = session.scalar(select(ApiToken).where(
        ApiToken.token_hash == _token_hash(token), ApiToken.revoked.is_(False),
        ApiToken.expires_at > utcnow()))
    if row is None or not row.user.active:
        return None
    _note_use(session, row)
    return row.user
