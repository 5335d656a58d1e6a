"""Task references: a per-user number (``12``) or a UUID / unique UUID prefix (≥ 6 hex)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from taskcli.core.errors import InvalidInputError

MIN_PREFIX = 6
MAX_NUMBER = 2**31 - 1
HEX_RE = re.compile(r"^[0-9a-f]+$")


@dataclass(frozen=True)
class Ref:
    """A parsed reference: either ``number`` or the inclusive UUID range of a prefix."""

    text: str
    number: int | None = None
    low: uuid.UUID | None = None
    high: uuid.UUID | None = None

    @property
    def is_full_uuid(self) -> bool:
        return self.low is not None and self.low == self.high


def parse_ref(text: str) -> Ref:
    """An all-digit reference is a task number; anything else must be hex (dashes allowed)."""
    value = text.strip().lower()
    if value.isascii() and value.isdigit():
        number = int(value)
        if not 1 <= number <= MAX_NUMBER:
            raise InvalidInputError(f"invalid task number {value!r}: must be 1 to {MAX_NUMBER}")
        return Ref(text=value, number=number)
    digits = value.replace("-", "")
    if MIN_PREFIX <= len(digits) <= 32 and HEX_RE.match(digits):
        low = uuid.UUID(digits.ljust(32, "0"))
        high = uuid.UUID(digits.ljust(32, "f"))
        return Ref(text=value, low=low, high=high)
    raise InvalidInputError(
        f"invalid task reference {text.strip()[:60]!r}: use a task number "
        f"or a UUID prefix of at least {MIN_PREFIX} hex characters"
    )


def parse_refs(texts: list[str]) -> list[Ref]:
    if not texts:
        raise InvalidInputError("no task reference given")
    return [parse_ref(text) for text in texts]
