"""Password hashing (passlib API from libpass, argon2) and session tokens (JWT, HS256)."""

from __future__ import annotations

import hashlib
import re
import secrets
import sys
import uuid
import warnings
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from types import ModuleType
from typing import TYPE_CHECKING, Any

from taskcli.core.errors import AuthError, InvalidInputError

if TYPE_CHECKING:
    from passlib.context import CryptContext

PASSWORD_MIN = 8
PASSWORD_MAX = 1024
ALGORITHM = "HS256"
# The argon2 parameters of new verifiers (a test keeps them equal to the context's defaults).
# The database hands out a setting (this prefix and a salt) for an email; the client
# hashes the password with it (see taskcli.core.proofs).
PASSWORD_SETTING = "$argon2id$v=19$m=65536,t=3,p=4$"
# Hashed when the email is unknown, so a missing user costs the same as a wrong password.
DUMMY_SETTING = PASSWORD_SETTING + "CKHU+n8PAQCAsHZurVXqPQ"
SETTING_RE = re.compile(
    r"^(\$argon2id\$v=19\$m=\d{1,7},t=\d{1,3},p=\d{1,3}\$[A-Za-z0-9+/]{11,86}"
    r"|\$2[aby]?\$\d\d\$[./A-Za-z0-9]{22})$"
)


@cache
def password_context() -> CryptContext:
    from passlib.context import CryptContext

    # argon2 for new hashes; bcrypt settings (from older databases) still hash.
    return CryptContext(schemes=["argon2", "bcrypt"], deprecated=["bcrypt"])


def check_password_rules(password: str) -> None:
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise InvalidInputError(f"password: must be {PASSWORD_MIN} to {PASSWORD_MAX} characters")


def hash_password(password: str) -> str:
    return password_context().hash(password)


def setting_of(password_hash: str) -> str:
    """The salt and parameters of a hash string, without its digest."""
    if password_context().identify(password_hash) == "bcrypt":
        return password_hash[:29]
    return password_hash.rsplit("$", 1)[0]


def hash_with_setting(password: str, setting: str) -> str:
    """The hash string of ``password`` under a stored setting (salt and parameters)."""
    if not SETTING_RE.match(setting):
        setting = DUMMY_SETTING  # never from this database: costs the same, matches nothing
    context = password_context()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # genhash: the one way to reuse a salt
        if setting.startswith("$2"):  # SETTING_RE admits bcrypt's and argon2id's only
            # bcrypt only ever read the first 72 bytes, and bcrypt >= 5 raises on longer input
            return str(context.handler("bcrypt").genhash(password.encode("utf-8")[:72], setting))
        return str(context.handler("argon2").genhash(password[:PASSWORD_MAX], setting))


def new_password(password: str) -> tuple[str, str]:
    """(setting, verifier) of a new password: what the database stores instead of a hash."""
    from taskcli.core.proofs import verifier

    password_hash = hash_password(password)
    return setting_of(password_hash), verifier(password_hash)


def needs_new_setting(setting: str) -> bool:
    """Hashed with bcrypt or with other argon2 parameters: replaced at the next login."""
    return not (setting.startswith(PASSWORD_SETTING) and SETTING_RE.match(setting))


def new_session_secret() -> str:
    """The random part of a token: without it, the signing key and a session's stored
    facts (all a copy of the database holds) rebuild no working token."""
    return secrets.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    """What the database keeps of a session secret."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_signing_key() -> str:
    return secrets.token_hex(32)


@dataclass(frozen=True)
class Claims:
    user_id: uuid.UUID
    email: str
    session_id: uuid.UUID
    audience: str
    expires_at: int
    secret: str


def _jwt() -> ModuleType:
    """PyJWT without its RSA/EC support: only HS256 is used here, and PyJWT loads
    ``cryptography`` for the others when it can, ~35 ms on every command. Hidden while
    PyJWT is first imported (it then offers HMAC only); anything later imports it as usual."""
    if "jwt" in sys.modules:
        return sys.modules["jwt"]
    hide = "cryptography" not in sys.modules
    if hide:
        sys.modules["cryptography"] = None  # type: ignore[assignment]  # → ModuleNotFoundError
    try:
        import jwt
    finally:
        if hide and sys.modules.get("cryptography", 0) is None:
            del sys.modules["cryptography"]
    return jwt


def issue_token(
    *,
    key: str,
    audience: str,
    user_id: uuid.UUID,
    email: str,
    session_id: uuid.UUID,
    secret: str,
    issued_at: datetime,
    expires_at: datetime,
) -> str:
    jwt = _jwt()

    payload = {
        "sub": str(user_id),
        "email": email,
        "jti": str(session_id),
        "sec": secret,
        "aud": audience,
        "iat": int(issued_at.timestamp()),
        "exp": int(expires_at.timestamp()),
    }
    token: str = jwt.encode(payload, key, algorithm=ALGORITHM)
    return token


def unverified_claims(token: str) -> Claims:
    """Read the claims to find the session; the signature is checked by :func:`verify_token`."""
    jwt = _jwt()

    try:
        payload = jwt.decode(token, options={"verify_signature": False})
        return _claims(payload)
    except (jwt.InvalidTokenError, LookupError, ValueError, TypeError):
        raise AuthError("the stored session token is not valid") from None


class SignatureMismatchError(AuthError):
    """Not signed with this database's key: forged, from another database, or signed with
    a key that ``db rotate-key`` has since replaced."""


def verify_token(token: str, *, key: str, audience: str) -> Claims:
    jwt = _jwt()

    try:
        payload = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=audience,
            options={"require": ["sub", "jti", "sec", "exp", "iat", "aud"]},
        )
    except jwt.ExpiredSignatureError:
        raise AuthError("your session has expired") from None
    except jwt.InvalidAudienceError:
        raise AuthError("the session token belongs to another database") from None
    except jwt.InvalidSignatureError:
        raise SignatureMismatchError("the session token is not valid for this database") from None
    except jwt.InvalidTokenError:
        raise AuthError("the session token is not valid for this database") from None
    return _claims(payload)


def _claims(payload: dict[str, Any]) -> Claims:
    audience = payload["aud"]
    return Claims(
        user_id=uuid.UUID(str(payload["sub"])),
        email=str(payload.get("email", "")),
        session_id=uuid.UUID(str(payload["jti"])),
        audience=audience if isinstance(audience, str) else str(audience[0]),
        expires_at=int(payload["exp"]),
        secret=str(payload.get("sec", "")),
    )
