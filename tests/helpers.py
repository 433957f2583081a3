"""Test helpers: run the real engine on real source text."""

from __future__ import annotations

import textwrap

import libcst as cst

from tf_repro_migrate.context import Options
from tf_repro_migrate.engine import Result, migrate_source


def _src(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def migrate(source: str, **options: object) -> Result:
    return migrate_source(_src(source), Options(**options))  # type: ignore[arg-type]


def check_transformed(before: str, after: str, **options: object) -> Result:
    """``before`` migrates to exactly ``after`` (which must parse), and migrating again changes nothing."""
    expected = _src(after)
    cst.parse_module(expected)
    result = migrate(before, **options)
    assert result.new == expected, f"got:\n{result.new}"
    again = migrate_source(result.new, Options(**options))  # type: ignore[arg-type]
    assert again.new == result.new, f"not idempotent:\n{again.new}"
    return result


def check_noop(source: str, **options: object) -> Result:
    """``source`` is left byte-for-byte as it is."""
    result = migrate(source, **options)
    assert result.new == _src(source), f"changed:\n{result.new}"
    return result


def codes(result: Result, safety: str | None = None) -> list[str]:
    return [f.code for f in result.findings if safety is None or f.safety.value == safety]
