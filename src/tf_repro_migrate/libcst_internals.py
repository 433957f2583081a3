"""Every private libcst name the engine relies on, in one place.

The engine takes a few shortcuts through libcst internals that make a run several times
faster (bench/README.md). Each has a slow but correct fallback for a libcst whose
internals moved, and each fallback is silent at run time; tests/test_libcst_internals.py
fails when the installed libcst makes the engine take one, so an upgrade that costs the
speed is noticed.

- ``PositionProvidingCodegenState`` (``libcst.metadata.position_provider``, not in its
  ``__all__``) with ``CSTNode._codegen`` and the provider's ``_computed`` dict: walk.py's
  ``LazyPositions`` computes positions one statement at a time with them. Fallback: the
  whole-file ``PositionProvider``.
- ``RemovedNodeVisitor`` (``libcst.codemod.visitors._remove_imports``): one visitor for
  every removed statement instead of one matcher visitor each (engine.py). Fallback:
  ``RemoveImportsVisitor.remove_unused_import_by_node`` per statement. Loaded lazily:
  ``libcst.codemod`` is a fifth of the start-up time and most runs never need it.
- ``MetadataWrapper._metadata`` (``computed_metadata``): where context.py hands libcst the
  expression contexts computed in one walk. Fallback: libcst computes them itself.
- ``RemoveImportsVisitor._unused_imports`` (``unused_imports``): lets the import remover skip
  its walk over a module where nothing it was asked to remove is unused. Fallback: the walk.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import libcst as cst

if TYPE_CHECKING:  # at run time the name comes from __getattr__ below, on first use
    from libcst.codemod.visitors._remove_imports import RemovedNodeVisitor

try:
    from libcst.metadata.position_provider import PositionProvidingCodegenState
except ImportError:  # pragma: no cover - depends on the libcst version
    PositionProvidingCodegenState = None  # type: ignore[assignment,misc]

METADATA_ATTRIBUTE = "_metadata"
UNUSED_IMPORTS_ATTRIBUTE = "_unused_imports"

__all__ = [
    "PositionProvidingCodegenState",
    "RemovedNodeVisitor",
    "computed_metadata",
    "has_codegen",
    "unused_imports",
]


def computed_metadata(wrapper: Any) -> dict[Any, Any] | None:
    """The dict where a MetadataWrapper keeps computed metadata (None if libcst moved it)."""
    computed = getattr(wrapper, METADATA_ATTRIBUTE, None)
    return computed if isinstance(computed, dict) else None


def unused_imports(visitor: Any) -> dict[Any, Any] | None:
    """RemoveImportsVisitor's unused aliases -> statements, once it has visited the module."""
    unused = getattr(visitor, UNUSED_IMPORTS_ATTRIBUTE, None)
    return unused if isinstance(unused, dict) else None


def has_codegen() -> bool:
    """Whether nodes still generate code through ``_codegen(state)`` (LazyPositions needs it)."""
    return callable(getattr(cst.Module, "_codegen", None))


def _removed_node_visitor() -> type | None:
    try:
        from libcst.codemod.visitors._remove_imports import RemovedNodeVisitor
    except ImportError:  # pragma: no cover - depends on the libcst version
        return None
    return RemovedNodeVisitor


def __getattr__(name: str) -> Any:
    # ``from tf_repro_migrate.libcst_internals import RemovedNodeVisitor`` imports libcst.codemod
    # only then, at the use site (PEP 562), not when this module is imported.
    if name == "RemovedNodeVisitor":
        return _removed_node_visitor()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
