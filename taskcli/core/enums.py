"""Task status and priority (standard library only, so the CLI can offer them cheaply)."""

from __future__ import annotations

from enum import StrEnum


class TaskStatus(StrEnum):
    pending = "pending"
    in_progress = "in_progress"
    completed = "completed"


class TaskPriority(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"

    @classmethod
    def _missing_(cls, value: object) -> TaskPriority | None:
        """Any case, and Taskwarrior's letters: ``H``, ``m``, ``Low``."""
        if not isinstance(value, str):
            return None
        key = value.strip().lower()
        for member in cls:
            if key in (member.value, member.value[0]):
                return member
        return None


class TaskSort(StrEnum):
    number = "number"
    due = "due"
    priority = "priority"
    created = "created"
    updated = "updated"
    urgency = "urgency"
