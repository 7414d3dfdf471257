"""What a pull of a source's changes brings: changed rows, deleted ids, and where the next pull starts."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ChangePull:
    """Rows changed since the cursor (every row when ``snapshot``), the ids the source deleted since,
    and the cursor of the next pull (the source's own terms, e.g. ``updated_since``)."""

    rows: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    cursor: dict[str, str] = field(default_factory=dict)
    snapshot: bool = True


def newest(current: str | None, values: list[str]) -> str | None:
    """The latest of a cursor and some timestamps of one format (ISO text sorts in time order)."""
    candidates = [value for value in values if value] + ([current] if current else [])
    return max(candidates) if candidates else None


def next_cursor(updated: str | None, deleted: str | None) -> dict[str, str]:
    return {key: value for key, value in (("updated_since", updated), ("deleted_since", deleted)) if value}
