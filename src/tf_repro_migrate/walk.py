"""Metadata the rules need, computed without libcst's generic visitor machinery.

libcst's providers (``ParentNodeProvider``, ``PositionProvider``, ``ExpressionContextProvider``)
go through its visitor protocol: a method lookup and two callbacks per node, and a rebuilt copy
of every node. Here each node class's child fields are read once and followed with a plain
stack: parents and calls in one walk (``TreeIndex``), positions generated only for the
top-level statements asked about (``LazyPositions``), and the load/store/del contexts the scope
analysis depends on (``expression_contexts``). tests/test_walk.py compares every answer with
libcst's provider, node for node. Whitespace and comment nodes are not entered: no rule asks
for the parent of a space.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Iterator, Mapping

import libcst as cst
from libcst.metadata import CodeRange, ExpressionContext

from tf_repro_migrate.libcst_internals import PositionProvidingCodegenState  # private in libcst; None if moved

_LEAVES = (
    cst.BaseParenthesizableWhitespace,
    cst.EmptyLine,
    cst.TrailingWhitespace,
    cst.Newline,
    cst.Comment,
    cst.LeftParen,
    cst.RightParen,
    cst.Comma,
    cst.Dot,
)

_FIELDS: dict[type, tuple[str, ...]] = {}
# type -> 0: not entered (not a node, or a leaf), 1: a node to enter, 2: a sequence of them.
# libcst's node classes are abstract base classes, so isinstance() on them is slow: ask once
# per type.
_KINDS: dict[type, int] = {}


def _kind(cls: type) -> int:
    kind = _KINDS.get(cls)
    if kind is None:
        if issubclass(cls, cst.CSTNode):
            kind = 0 if issubclass(cls, _LEAVES) else 1
        else:
            kind = 2 if cls in (tuple, list) else 0
        _KINDS[cls] = kind
    return kind


def _children(node: cst.CSTNode, field: str) -> list[cst.CSTNode]:
    value = getattr(node, field)
    kind = _KINDS.get(type(value))
    if kind is None:
        kind = _kind(type(value))
    if kind == 1:
        return [value]
    if kind == 2:
        return [item for item in value if (_KINDS.get(type(item)) or _kind(type(item))) == 1]
    return []


def _child_fields(cls: type) -> tuple[str, ...]:
    fields = _FIELDS.get(cls)
    if fields is None:
        # Dataclass fields in declaration order; libcst's nodes keep their children in them
        # (values that are not nodes, like a Name's string, are skipped below).
        fields = tuple(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]
        _FIELDS[cls] = fields
    return fields


class TreeIndex:
    """Parents (node -> parent) and calls of one module, from one walk."""

    def __init__(self, module: cst.Module):
        parents: dict[cst.CSTNode, cst.CSTNode] = {}
        calls: list[cst.Call] = []
        call_type = cst.Call
        stack: list[cst.CSTNode] = [module]
        pop, push = stack.pop, stack.append
        while stack:
            node = pop()
            if type(node) is call_type:
                calls.append(node)  # type: ignore[arg-type]
            children = []
            for name in _child_fields(type(node)):
                children += _children(node, name)
            for child in children:
                parents[child] = node
            # Reversed, so the stack pops children in field order.
            for child in reversed(children):
                push(child)
        self.parents: Mapping[cst.CSTNode, cst.CSTNode] = parents
        self.calls = calls  # pre-order of the fields: not always source order (sort by position)


class LazyPositions(Mapping[cst.CSTNode, CodeRange]):
    """``PositionProvider``'s answers, computed one top-level statement at a time, on demand.

    The positions of a module's nodes come from generating its code while counting lines and
    columns; libcst does that for every node of the file. The rules ask for the positions of a
    few nodes (the calls they act on, the findings), so this generates, with libcst's own
    position-tracking state, only the top-level statements that hold them, each started at its
    first line (found by generating the plain code of the statements before it)."""

    def __init__(self, module: cst.Module, parents: Mapping[cst.CSTNode, cst.CSTNode]):
        self._module = module
        self._parents = parents
        self._computed: dict[cst.CSTNode, CodeRange] = {}
        self._index = {id(stmt): i for i, stmt in enumerate(module.body)}
        self._starts: list[int] = []  # first line of each top-level statement's code, so far
        self._done: set[int] = set()

    def __getitem__(self, node: cst.CSTNode) -> CodeRange:
        found = self._computed.get(node)
        if found is not None:
            return found
        top = node
        while True:
            parent = self._parents.get(top)
            if parent is None or parent is self._module:
                break
            top = parent
        index = self._index.get(id(top))
        if index is None or index in self._done:
            raise KeyError(node)
        self._compute(index)
        return self._computed[node]

    def __iter__(self) -> Iterator[cst.CSTNode]:
        raise TypeError("LazyPositions cannot be iterated")

    def __len__(self) -> int:
        return len(self._computed)

    def _start(self, index: int) -> int:
        module = self._module
        if not self._starts:
            header = "".join(module.code_for_node(line) for line in module.header)
            self._starts.append(1 + _newlines(header))
        while len(self._starts) <= index:
            done = len(self._starts) - 1
            code = module.code_for_node(module.body[done])
            self._starts.append(self._starts[done] + _newlines(code))
        return self._starts[index]

    def _compute(self, index: int) -> None:
        module = self._module
        state = PositionProvidingCodegenState(
            default_indent=module.default_indent,
            default_newline=module.default_newline,
            provider=_Sink(self._computed),  # type: ignore[arg-type]
        )
        state.line = self._start(index)
        module.body[index]._codegen(state)
        self._done.add(index)


class _Sink:
    """What the position-tracking state writes to: the ``_computed`` dict of a provider."""

    def __init__(self, computed: dict[cst.CSTNode, CodeRange]):
        self._computed = computed


_NEWLINE = re.compile(r"\r\n?|\n")


def _newlines(code: str) -> int:
    return len(_NEWLINE.findall(code))


def expression_contexts(module: cst.Module) -> dict[cst.CSTNode, ExpressionContext]:
    """What libcst's ExpressionContextProvider computes (the scope analysis depends on it),
    in one stack walk instead of a visitor per assignment target: LOAD, STORE or DEL for
    names, attributes, subscripts, tuples, lists and starred elements (an attribute's ``.attr``
    and the type parameters of a ``def`` or ``class`` get none, as in libcst)."""
    load, store, delete = ExpressionContext.LOAD, ExpressionContext.STORE, ExpressionContext.DEL
    found: dict[cst.CSTNode, ExpressionContext] = {}
    stack: list[tuple[object, ExpressionContext]] = [(module, load)]
    pop, push = stack.pop, stack.append
    while stack:
        node, ctx = pop()
        if node is None:
            continue
        kind = type(node)
        if kind is cst.Name:
            found[node] = ctx  # type: ignore[index]
        elif kind is cst.Attribute:
            found[node] = ctx  # type: ignore[index]
            push((node.value, load))  # type: ignore[attr-defined]
        elif kind is cst.Subscript:
            found[node] = ctx  # type: ignore[index]
            push((node.value, load))  # type: ignore[attr-defined]
            for element in node.slice:  # type: ignore[attr-defined]
                push((element, load))
        elif kind in _STORE_FIELDS:
            target_fields, other_fields, target_ctx = _STORE_FIELDS[kind]
            for name in other_fields:
                for child in _children(node, name):  # type: ignore[arg-type]
                    push((child, ctx))
            for name in target_fields:
                for child in _children(node, name):  # type: ignore[arg-type]
                    push((child, store if target_ctx is None else delete))
        else:
            if kind in (cst.Tuple, cst.List, cst.StarredElement):
                found[node] = ctx  # type: ignore[index]
            for name in _child_fields(kind):
                for child in _children(node, name):  # type: ignore[arg-type]
                    push((child, ctx))
    return found


# node type -> (fields visited as targets, fields visited in the current context, None for
# STORE targets / "del" for DEL targets); fields not listed are not visited (libcst's visitor
# returns False for these nodes after visiting exactly these).
_STORE_FIELDS: dict[type, tuple[tuple[str, ...], tuple[str, ...], str | None]] = {
    cst.AssignTarget: (("target",), (), None),
    cst.Assign: (("targets",), ("value",), None),
    cst.AnnAssign: (("target",), ("annotation", "value"), None),
    cst.AugAssign: (("target",), ("value",), None),
    cst.NamedExpr: (("target",), ("value",), None),
    cst.AsName: (("name",), (), None),
    cst.CompFor: (("target",), ("iter", "ifs", "inner_for_in"), None),
    cst.For: (("target",), ("iter", "body", "orelse"), None),
    cst.Del: (("target",), (), "del"),
    cst.ClassDef: (("name",), ("body", "bases", "keywords", "decorators"), None),
    cst.FunctionDef: (("name",), ("params", "body", "decorators", "returns"), None),
    cst.Param: (("name",), ("annotation", "default"), None),
}
