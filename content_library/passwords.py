"""Password rules and hashing: Argon2id, 8 to 128 characters, common passwords refused."""

from __future__ import annotations

from functools import cache
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from .errors import Invalid

MIN_LENGTH = 8
MAX_LENGTH = 128  # long pass-phrases welcome; never truncated

_hasher = PasswordHasher()  # Argon2id with the library's current (RFC 9106 low-memory) profile
# Verifying against this makes an unknown e-mail cost as much as a wrong password.
_DUMMY_HASH = _hasher.hash("not a real password, only for timing")


@cache
def _common_passwords() -> frozenset[str]:
    try:
        text = resources.files("content_library").joinpath("data/common-passwords.txt").read_text()
    except FileNotFoundError:
        return frozenset()
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip())


def check_strength(password: str, email: str = "") -> None:
    if not password:
        raise Invalid({"password": "Enter a password."})
    if len(password) < MIN_LENGTH:
        raise Invalid({"password": f"Use at least {MIN_LENGTH} characters."})
    if len(password) > MAX_LENGTH:
        raise Invalid({"password": f"Use at most {MAX_LENGTH} characters."})
    lowered = password.lower()
    if lowered in _common_passwords() or (email and lowered == email.lower()):
        raise Invalid({"password": "This password is too common: choose another."})
    if len(set(password)) < 4:
        raise Invalid({"password": "This password is too easy to guess: choose another."})


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)
