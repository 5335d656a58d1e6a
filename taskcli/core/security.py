"""Password hashing (passlib API from libpass, argon2) and session tokens (JWT, HS256)."""

from __future__ import annotations

import hashlib
import secrets
import sys
import uuid
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
# Verified when the email is unknown, so a missing user costs the same as a wrong password.
# Same argon2 parameters as the context's defaults (a test keeps them in step).
DUMMY_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$CKHU+n8PAQCAsHZurVXqPQ"
    "$xe4oGfJokunGGRbVNXJEH/LPpmQjdhN6JvbuIzwI4oY"
)


@cache
def password_context() -> CryptContext:
    from passlib.context import CryptContext

    # argon2 for new hashes; bcrypt still verifies and is rehashed on the next login.
    return CryptContext(schemes=["argon2", "bcrypt"], deprecated=["bcrypt"])


def check_password_rules(password: str) -> None:
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise InvalidInputError(f"password: must be {PASSWORD_MIN} to {PASSWORD_MAX} characters")


def hash_password(password: str) -> str:
    return password_context().hash(password)


def verify_password(password: str, stored_hash: str | None) -> tuple[bool, str | None]:
    """(matches, replacement hash when the stored one needs an update).

    With no stored hash (unknown user) the dummy hash is verified and the answer is False.
    A password longer than register allows can match nothing (and passlib refuses some):
    it is answered the same way, at the same cost.
    """
    context = password_context()
    if stored_hash is None or len(password) > PASSWORD_MAX:
        context.verify_and_update(password[:PASSWORD_MAX], DUMMY_HASH)
        return False, None
    if context.identify(stored_hash) != "bcrypt":
        return context.verify_and_update(password, stored_hash)
    # bcrypt only ever read the first 72 bytes, and bcrypt >= 5 raises on longer input;
    # the argon2 replacement is made from the whole password.
    if not context.verify(password.encode("utf-8")[:72], stored_hash):
        return False, None
    return True, context.hash(password) if context.needs_update(stored_hash) else None


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
