"""What every ingest source returns and raises: the one module the sources and the dispatcher share."""

from __future__ import annotations

from dataclasses import dataclass, field

from warehouse.loaders import LoadReport


class IngestError(RuntimeError):
    """A listener's pull failed in a way the user must fix (e.g. a dead refresh token)."""


@dataclass
class IngestResult:
    source: str
    reports: list[LoadReport] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    token_rotated: list[str] = field(default_factory=list)

    @property
    def plays_inserted(self) -> int:
        return sum(r.plays_inserted for r in self.reports)
