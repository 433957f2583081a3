"""What a rule reports: findings, their safety class, and the edits that carry them out."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Sequence, Union

import libcst as cst


class Safety(str, enum.Enum):
    """How a finding may be acted on.

    SAFE fixes are applied by ``--write``; UNSAFE ones only with ``--unsafe-fixes``
    (the summary counts those held back); MANUAL findings are reported, never rewritten.
    """

    SAFE = "safe"
    UNSAFE = "unsafe"
    MANUAL = "manual"


@dataclass(frozen=True)
class ReplaceNode:
    """Replace one expression node (identity of the original tree) with another."""

    old: cst.CSTNode
    new: cst.CSTNode


@dataclass(frozen=True)
class ReplaceStatement:
    """Replace a statement unit (a small statement or a compound statement) with
    zero or more whole statements; ``[]`` removes it. Comments above or beside a
    removed statement move to the next statement."""

    old: cst.CSTNode
    new: Sequence[cst.BaseStatement]


@dataclass(frozen=True)
class InsertAfter:
    """Insert whole statements after a statement unit (after its replacement, if any)."""

    anchor: cst.CSTNode
    new: Sequence[cst.BaseStatement]


@dataclass(frozen=True)
class InsertBefore:
    """Insert whole statements before a statement unit (before its replacement, if any):
    an import that must run before new code which needs it (the file binds the name later)."""

    anchor: cst.CSTNode
    new: Sequence[cst.BaseStatement]


@dataclass(frozen=True)
class AddImport:
    """Make sure ``import module as asname`` (or ``import module``) is present."""

    module: str
    asname: str | None = None


Edit = Union[ReplaceNode, ReplaceStatement, InsertAfter, InsertBefore, AddImport]


@dataclass
class Finding:
    """One thing a rule found at one place in a file."""

    code: str
    line: int
    col: int
    message: str
    safety: Safety
    edits: list[Edit] = field(default_factory=list, repr=False, compare=False)
    applied: bool = False
    cell: int | None = None
    # Findings with the same bundle only make sense together (a config and the session built
    # from it): they are offered, accepted and applied as one change.
    bundle: str | None = field(default=None, compare=False)
    # How many findings the bundle has when every rule that takes part reports; a bundle with a
    # member missing (its rule skipped, its line suppressed) is not applied at all.
    bundle_size: int = field(default=0, compare=False)
    # The rule's order (rules/__init__.py): when accepted edits overlap, the earlier rule wins.
    order: int = field(default=50, repr=False, compare=False)
    # The code of the accepted finding whose edits replace this one's (set when resolving).
    superseded_by: str | None = field(default=None, compare=False)

    @property
    def fixable(self) -> bool:
        return self.safety is not Safety.MANUAL and bool(self.edits)

    def to_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "line": self.line,
            "column": self.col,
            "cell": self.cell,
            "safety": self.safety.value,
            "message": self.message,
            "applied": self.applied,
        }
