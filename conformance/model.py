"""Cases and steps as loaded from spec files (see spec/README.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

LEVELS = ("must", "should", "info")

#: Step modifiers (spec/README.md, section 3); the actions are the table in ``actions.py``.
MODIFIERS = ("expect", "within", "socket", "conn", "as", "background", "note")


@dataclass(frozen=True)
class PeerSpec:
    kind: Literal["plain", "none", "tls", "starttls"] = "plain"
    host: Literal["127.0.0.1", "::1"] = "127.0.0.1"
    cert: Literal["good", "wrong-host", "untrusted", "expired"] = "good"


@dataclass(frozen=True)
class Step:
    index: int
    line: int
    action: str
    arg: Any
    expect: dict[str, Any] | None = None
    within: float | None = None
    socket: str | None = None
    conn: str | None = None  # the peer connection a peer op acts on (a `peer.accept`'s `as`)
    name: str | None = None  # the `as` modifier
    background: str | None = None
    note: str | None = None

    def describe(self) -> str:
        return f"step {self.index + 1} ({self.action}, line {self.line})"


@dataclass(frozen=True)
class Case:
    id: str
    title: str
    level: str
    source: tuple[str, ...]
    steps: tuple[Step, ...]
    file: str
    line: int
    tags: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    peer: PeerSpec = field(default_factory=PeerSpec)
    timeout: float = 15.0
    variables: dict[str, Any] = field(default_factory=dict)
    variant: str | None = None

    @property
    def area(self) -> str:
        return self.id.split(".", 1)[0]

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}"
