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


class TaskSort(StrEnum):
    number = "number"
    due = "due"
    priority = "priority"
    created = "created"
    updated = "updated"
