"""What a client proves to PostgreSQL without sending anything worth stealing.

Every session of the application role can read every other session's statement text
(``pg_stat_activity``), so neither a password, nor its verifier, nor a session token
ever travels in a statement:

- **Login** is a Schnorr proof of knowledge (the Girault-Poupard-Stern variant, which
  needs no reduction modulo the group order) of ``x``, a 256-bit secret derived from
  the argon2 hash of the password, in the RFC 7919 group ffdhe2048. The database keeps
  ``y = g^x mod p`` and checks ``g^s = R * y^c``. A proof is bound to the email, a
  single-use nonce, a timestamp and the account's new verifier if one is sent, so a
  copied statement cannot be replayed or altered.
- **A command** presents its session with ``secret XOR HMAC(sha256(secret), message)``
  over a single-use nonce and a timestamp. The database holds only ``sha256(secret)``:
  it unmasks the secret and checks its hash. Without the stored hash the proof is
  noise; without the proof the stored hash is no token.

The same arithmetic runs in the database (migration 0004's SQL functions); a test keeps
both sides in step.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass

# RFC 7919 ffdhe2048: a safe prime, generator 2.
GROUP_PRIME_HEX = (
    "FFFFFFFFFFFFFFFFADF85458A2BB4A9AAFDC5620273D3CF1D8B9C583CE2D3695A9E13641146433FB"
    "CC939DCE249B3EF97D2FE363630C75D8F681B202AEC4617AD3DF1ED5D5FD65612433F51F5F066ED0"
    "856365553DED1AF3B557135E7F57C935984F0C70E0E68B77E2A689DAF3EFE8721DF158A136ADE735"
    "30ACCA4F483A797ABC0AB182B324FB61D108A94BB2C8E3FBB96ADAB760D7F4681D4F42A3DE394DF4"
    "AE56EDE76372BB190B07A7C8EE0A6D709E02FCE1CDF7E2ECC03404CD28342F619172FE9CE98583FF"
    "8E4F1232EEF28183C3FE3B1B4C6FAD733BB5FCBC2EC22005C58EF1837D1683B2C6F34A26C1B2EFFA"
    "886B423861285C97FFFFFFFFFFFFFFFF"
)
P = int(GROUP_PRIME_HEX, 16)
G = 2
CHALLENGE_BYTES = 16  # c < 2^128
NONCE_BITS = 512  # k: hides c*x (< 2^384) with 2^-128 statistical distance
LOGIN_KEY_LABEL = b"taskcli login key"


def login_secret(password_hash: str) -> int:
    """x: what the password's argon2 (or legacy bcrypt) hash string proves knowledge of."""
    digest = hmac.new(password_hash.encode("utf-8"), LOGIN_KEY_LABEL, hashlib.sha256).digest()
    return int.from_bytes(digest, "big")


def verifier(password_hash: str) -> str:
    """y = g^x mod p, in decimal: what the database stores for the password."""
    return str(pow(G, login_secret(password_hash), P))


def challenge(*, email: str, nonce: uuid.UUID, ts: int, r: int, new_verifier: str) -> int:
    text = f"taskcli-login|{email}|{nonce}|{ts}|{r}|{new_verifier}"
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:CHALLENGE_BYTES], "big")


@dataclass(frozen=True)
class LoginProof:
    nonce: uuid.UUID
    ts: int
    r: int
    s: int


def login_proof(password_hash: str, *, email: str, new_verifier: str = "") -> LoginProof:
    x = login_secret(password_hash)
    k = secrets.randbits(NONCE_BITS)
    r = pow(G, k, P)
    nonce, ts = uuid.uuid4(), int(time.time())
    c = challenge(email=email, nonce=nonce, ts=ts, r=r, new_verifier=new_verifier)
    return LoginProof(nonce, ts, r, k + c * x)


def check_login_proof(proof: LoginProof, *, stored_verifier: str, email: str) -> bool:
    """The database's check, in Python (used by tests to keep both sides in step)."""
    y = int(stored_verifier)
    c = challenge(email=email, nonce=proof.nonce, ts=proof.ts, r=proof.r, new_verifier="")
    return 1 < proof.r < P and pow(G, proof.s, P) == proof.r * pow(y, c, P) % P


@dataclass(frozen=True)
class SessionProof:
    user_id: uuid.UUID
    session_id: uuid.UUID
    nonce: uuid.UUID
    ts: int
    proof: str  # hex


def _mask(key: bytes, message: bytes, length: int) -> bytes:
    blocks = (hmac.new(key, message + bytes([i]), hashlib.sha256).digest() for i in (1, 2))
    return b"".join(blocks)[:length]


def session_message(user_id: uuid.UUID, session_id: uuid.UUID, nonce: uuid.UUID, ts: int) -> bytes:
    return f"taskcli-session|{user_id}|{session_id}|{nonce}|{ts}".encode()


def _masked(secret: str, message: bytes) -> str:
    """``secret XOR HMAC(sha256(secret), message)`` in hex (a secret of at most 64 bytes)."""
    raw = secret.encode("utf-8")
    mask = _mask(hashlib.sha256(raw).digest(), message, len(raw))
    return bytes(a ^ b for a, b in zip(raw, mask, strict=True)).hex()


def session_proof(secret: str, *, user_id: uuid.UUID, session_id: uuid.UUID) -> SessionProof:
    """A single-use proof of holding the session secret (at most 64 bytes)."""
    nonce, ts = uuid.uuid4(), int(time.time())
    masked = _masked(secret, session_message(user_id, session_id, nonce, ts))
    return SessionProof(user_id, session_id, nonce, ts, masked)


@dataclass(frozen=True)
class ResetProof:
    nonce: uuid.UUID
    ts: int
    proof: str  # hex


def reset_proof(code: str, *, email: str, bound: str) -> ResetProof:
    """A single-use proof of holding a reset code (normalised; the database keeps its
    SHA-256), bound to the email and to the new password's setting and verifier."""
    nonce, ts = uuid.uuid4(), int(time.time())
    message = f"taskcli-reset|{email}|{nonce}|{ts}|{bound}".encode()
    return ResetProof(nonce, ts, _masked(code, message))
