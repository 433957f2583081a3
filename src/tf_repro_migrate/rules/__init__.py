"""The rules. Each module here defines one :class:`Rule` subclass; they register
themselves by subclassing, so nothing lists them by hand. Rules record findings
and edits on the shared :class:`~tf_repro_migrate.context.Context`; they never
mutate the tree. They run in ``order``: a rule that consumes statements (seed
consolidation) runs before the rules that would otherwise rewrite them one by one,
and claims the nodes it took."""

from __future__ import annotations

import importlib
import pkgutil
from typing import ClassVar

from tf_repro_migrate.context import Context
from tf_repro_migrate.findings import Safety


class Rule:
    """Base class: set ``code``, ``name``, ``summary``, ``safety`` and implement ``run``."""

    code: ClassVar[str]
    name: ClassVar[str]
    summary: ClassVar[str]
    safety: ClassVar[Safety]
    order: ClassVar[int] = 50
    # Substrings one of which must occur in a file's text for the rule to have anything to do.
    triggers: ClassVar[tuple[str, ...]] = ()
    # Whether the rule still runs in files written against tensorflow.compat.v1 (TRM009).
    in_compat_v1_files: ClassVar[bool] = False

    _registry: ClassVar[dict[str, type["Rule"]]] = {}

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "code" in cls.__dict__:
            Rule._registry[cls.code] = cls

    def run(self, ctx: Context) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


def all_rules() -> list[type[Rule]]:
    """Every rule, sorted by code, after importing the modules of this package."""
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")
    return [Rule._registry[code] for code in sorted(Rule._registry)]


def all_triggers() -> tuple[str, ...]:
    """Substrings whose absence lets the pre-filter skip a file without parsing it."""
    return tuple(sorted({t for rule in all_rules() for t in rule.triggers}))
