"""Task references: a per-user number (``12``) or a UUID / unique UUID prefix (≥ 6 hex).

An all-digit reference of six or more digits can be both: it names the task with that
number when there is one, and otherwise the task whose UUID starts with those digits
(one UUID in ~40 starts with eight decimal digits, so a copied prefix can look like a
number). With a leading zero, or beyond the largest number, it is only a prefix.
"""

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
    """A parsed reference: ``number``, the inclusive UUID range of a prefix, or both.

    With both, the number wins when the user has a task with that number.
    """

    text: str
    number: int | None = None
    low: uuid.UUID | None = None
    high: uuid.UUID | None = None

    @property
    def is_number_only(self) -> bool:
        return self.low is None

    @property
    def is_full_uuid(self) -> bool:
        return self.low is not None and self.low == self.high


def parse_ref(text: str) -> Ref:
    """A short all-digit reference is a number; anything else must be hex (dashes allowed)."""
    value = text.strip().lower()
    digits = value.replace("-", "")
    is_prefix = MIN_PREFIX <= len(digits) <= 32 and HEX_RE.match(digits) is not None
    all_digits = value.isascii() and value.isdigit()
    number = int(value) if all_digits and not (is_prefix and value.startswith("0")) else None
    if number is not None and not 1 <= number <= MAX_NUMBER:
        number = None
    if is_prefix:
        low = uuid.UUID(digits.ljust(32, "0"))
        high = uuid.UUID(digits.ljust(32, "f"))
        return Ref(text=value, number=number, low=low, high=high)
    if number is not None:
        return Ref(text=value, number=number)
    if all_digits:
        raise InvalidInputError(f"invalid task number {value!r}: must be 1 to {MAX_NUMBER}")
    raise InvalidInputError(
        f"invalid task reference {text.strip()[:60]!r}: use a task number "
        f"or a UUID prefix of at least {MIN_PREFIX} hex characters"
    )


def parse_refs(texts: list[str]) -> list[Ref]:
    if not texts:
        raise InvalidInputError("no task reference given")
    return [parse_ref(text) for text in texts]
