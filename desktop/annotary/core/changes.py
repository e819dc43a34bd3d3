"""What an operation changed, so that screens redraw from it and the CLI can report it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Change:
    op: str
    project_id: str | None = None
    item_ids: tuple[str, ...] = ()
    counts: dict[str, int] = field(default_factory=dict)
    message: str = ""
