"""Apply the edits of the accepted findings to a module, in one transform.

Edits are keyed by the identity of nodes in the *original* tree. Statement-level
edits work on "statement units": a small statement inside a line (so that
``np.random.seed(7); rn.seed(8)`` can lose one half) or a compound statement.
Comments above or beside a removed statement are carried to the next statement
of the block, because libcst attaches them to the statement they precede.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import libcst as cst

from tf_repro_migrate.findings import Edit, InsertAfter, InsertBefore, ReplaceNode, ReplaceStatement


@dataclass
class _StatementOps:
    replacement: list[cst.BaseStatement] | None = None
    before: list[cst.BaseStatement] = field(default_factory=list)
    after: list[cst.BaseStatement] = field(default_factory=list)


def apply_edits(
    module: cst.Module, edits: Sequence[Edit], parents: Mapping[cst.CSTNode, cst.CSTNode] | None = None
) -> cst.Module:
    """Return ``module`` with ``edits`` applied (imports are handled by the engine).

    With ``parents`` (of the original tree), the transform only enters the nodes on the way
    to an edited node: the rest of the tree comes back as it is, without being visited."""
    exprs: dict[cst.CSTNode, cst.CSTNode] = {}
    stmts: dict[cst.CSTNode, _StatementOps] = {}
    for edit in edits:
        if isinstance(edit, ReplaceNode):
            exprs[edit.old] = edit.new
        elif isinstance(edit, ReplaceStatement):
            stmts.setdefault(edit.old, _StatementOps()).replacement = list(edit.new)
        elif isinstance(edit, InsertAfter):
            stmts.setdefault(edit.anchor, _StatementOps()).after.extend(edit.new)
        elif isinstance(edit, InsertBefore):
            stmts.setdefault(edit.anchor, _StatementOps()).before.extend(edit.new)
    if not exprs and not stmts:
        return module
    on_path: set[cst.CSTNode] | None = None
    if parents is not None:
        on_path = set()
        for target in [*exprs, *stmts]:
            node: cst.CSTNode | None = target
            while node is not None and node not in on_path:
                on_path.add(node)
                node = parents.get(node)
        if module not in on_path:  # an edit of a node outside this tree: walk all of it
            on_path = None
    return module.visit(_Applier(exprs, stmts, on_path))


def _comment_line(comment: cst.Comment) -> cst.EmptyLine:
    return cst.EmptyLine(indent=True, whitespace=cst.SimpleWhitespace(""), comment=comment)


def _blank_run(lines: Sequence[cst.EmptyLine], from_end: bool) -> int:
    seq = list(reversed(lines)) if from_end else list(lines)
    count = 0
    for line in seq:
        if line.comment is not None:
            break
        count += 1
    return count


def _join_lines(first: Sequence[cst.EmptyLine], second: Sequence[cst.EmptyLine]) -> list[cst.EmptyLine]:
    """Concatenate two runs of leading lines without doubling the blank lines at the seam."""
    first, second = list(first), list(second)
    tail, head = _blank_run(first, True), _blank_run(second, False)
    if tail and head:
        keep = max(tail, head)
        first = first[: len(first) - tail]
        second = second[head:]
        # One object per line: a node that appears twice would cost the import passes a deep copy.
        return first + [cst.EmptyLine() for _ in range(keep)] + second
    return first + second


def _with_leading(stmt: cst.BaseStatement, lines: Sequence[cst.EmptyLine]) -> cst.BaseStatement:
    if not lines:
        return stmt
    return stmt.with_changes(leading_lines=_join_lines(lines, stmt.leading_lines))  # type: ignore[attr-defined]


class _Applier(cst.CSTTransformer):
    def __init__(
        self,
        exprs: dict[cst.CSTNode, cst.CSTNode],
        stmts: dict[cst.CSTNode, _StatementOps],
        on_path: set[cst.CSTNode] | None = None,
    ):
        super().__init__()
        self.exprs = exprs
        self.stmts = stmts
        self.on_path = on_path

    def on_visit(self, node: cst.CSTNode) -> bool:
        if self.on_path is not None and node not in self.on_path:
            return False  # nothing to change below: leave it as it is
        return super().on_visit(node)

    def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode):  # type: ignore[override]
        replacement = self.exprs.get(original_node)
        if replacement is not None:
            return replacement
        return super().on_leave(original_node, updated_node)

    # -- blocks -------------------------------------------------------------------------------

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        body, pending = self._rebuild(original_node.body, updated_node.body)
        footer = _join_lines(pending, updated_node.footer) if pending else updated_node.footer
        return updated_node.with_changes(body=body, footer=footer)

    def leave_IndentedBlock(self, original_node: cst.IndentedBlock, updated_node: cst.IndentedBlock) -> cst.IndentedBlock:
        body, pending = self._rebuild(original_node.body, updated_node.body)
        if not body:
            body = [cst.SimpleStatementLine(body=[cst.Pass()], leading_lines=pending)]
            pending = []
        footer = _join_lines(pending, updated_node.footer) if pending else updated_node.footer
        return updated_node.with_changes(body=body, footer=footer)

    def leave_SimpleStatementSuite(
        self, original_node: cst.SimpleStatementSuite, updated_node: cst.SimpleStatementSuite
    ) -> cst.SimpleStatementSuite:
        smalls: list[cst.BaseSmallStatement] = []
        changed = False
        for orig, upd in zip(original_node.body, updated_node.body):
            ops = self.stmts.get(orig)
            if ops is None:
                smalls.append(upd)
                continue
            changed = True
            pieces: list[cst.BaseStatement] = (
                [cst.SimpleStatementLine(body=[upd])] if ops.replacement is None else ops.replacement
            )
            for piece in [*ops.before, *pieces, *ops.after]:
                if not isinstance(piece, cst.SimpleStatementLine):
                    raise ValueError("compound statement cannot go into a one-line suite")
                smalls.extend(piece.body)
        if not changed:
            return updated_node
        if not smalls:
            smalls = [cst.Pass()]
        return updated_node.with_changes(body=_fix_semicolons(smalls))

    def _rebuild(
        self, originals: Sequence[cst.BaseStatement], updated: Sequence[cst.BaseStatement]
    ) -> tuple[list[cst.BaseStatement], list[cst.EmptyLine]]:
        out: list[cst.BaseStatement] = []
        pending: list[cst.EmptyLine] = []

        def emit(stmt: cst.BaseStatement) -> None:
            nonlocal pending
            out.append(_with_leading(stmt, pending))
            pending = []

        for orig, upd in zip(originals, updated):
            if isinstance(orig, cst.SimpleStatementLine) and isinstance(upd, cst.SimpleStatementLine):
                pieces = self._split_line(orig, upd)
                if pieces is None:
                    emit(upd)
                    continue
            else:
                ops = self.stmts.get(orig)
                if ops is None:
                    emit(upd)
                    continue
                pieces = list(ops.replacement) if ops.replacement is not None else [upd]
                if ops.before:  # the statement's comments go above what is inserted before it
                    if pieces and pieces[0] is upd:
                        pieces[0] = upd.with_changes(leading_lines=())
                    pieces = self._carry_comments(upd, [*ops.before, *pieces])
                elif ops.replacement is not None:
                    pieces = self._carry_comments(upd, pieces)
                pieces += ops.after
            if not pieces:
                # The whole statement went away: keep its comments for the next statement.
                pending = _join_lines(pending, self._orphaned_comments(upd))
                continue
            for piece in pieces:
                emit(piece)
        return out, pending

    def _carry_comments(self, old: cst.BaseStatement, pieces: list[cst.BaseStatement]) -> list[cst.BaseStatement]:
        if not pieces:
            return pieces
        first = pieces[0]
        return [_with_leading(first, old.leading_lines), *pieces[1:]]  # type: ignore[attr-defined]

    @staticmethod
    def _orphaned_comments(old: cst.BaseStatement) -> list[cst.EmptyLine]:
        lines = list(old.leading_lines)  # type: ignore[attr-defined]
        if isinstance(old, cst.SimpleStatementLine) and old.trailing_whitespace.comment is not None:
            lines.append(_comment_line(old.trailing_whitespace.comment))
        return lines

    def _split_line(
        self, orig: cst.SimpleStatementLine, upd: cst.SimpleStatementLine
    ) -> list[cst.BaseStatement] | None:
        """Pieces a line turns into, or None when none of its small statements has an edit."""
        if not any(small in self.stmts for small in orig.body):
            return None
        pieces: list[cst.BaseStatement] = []
        kept: list[cst.BaseSmallStatement] = []

        own_code: set[int] = set()  # ids of pieces made of the line's own (kept) small statements

        def flush() -> None:
            if kept:
                piece = cst.SimpleStatementLine(body=_fix_semicolons(kept))
                own_code.add(id(piece))
                pieces.append(piece)
                kept.clear()

        replaced_any = False
        inserted_before: set[int] = set()  # ids of pieces that were inserted before the line's code
        for o_small, u_small in zip(orig.body, upd.body):
            ops = self.stmts.get(o_small)
            if ops is None:
                kept.append(u_small)
                continue
            if ops.before:
                flush()
                if not pieces:
                    inserted_before.update(id(p) for p in ops.before)
                pieces.extend(ops.before)
            if ops.replacement is None:
                kept.append(u_small)
                flush()
            else:
                flush()
                replaced_any = True
                pieces.extend(ops.replacement)
            pieces.extend(ops.after)
        flush()
        if not pieces:
            return []
        # The line's comments: those above go with its first piece, the one beside it
        # stays beside the first piece of the line's own code (or above it, when that piece
        # is compound); an import inserted before the line does not take it.
        trailing = upd.trailing_whitespace
        pieces[0] = _with_leading(pieces[0], upd.leading_lines)
        own = next((i for i, p in enumerate(pieces) if id(p) not in inserted_before), 0)
        first = pieces[own]
        if trailing.comment is not None:
            if isinstance(first, cst.SimpleStatementLine) and first.trailing_whitespace.comment is None:
                first = first.with_changes(trailing_whitespace=trailing)
            else:
                first = first.with_changes(leading_lines=[*first.leading_lines, _comment_line(trailing.comment)])  # type: ignore[attr-defined]
        elif not replaced_any and id(first) in own_code and isinstance(first, cst.SimpleStatementLine):
            # the line's own code, followed by inserted statements or not: it keeps its line end
            first = first.with_changes(trailing_whitespace=trailing)
        pieces[own] = first
        return pieces


def _fix_semicolons(smalls: Sequence[cst.BaseSmallStatement]) -> list[cst.BaseSmallStatement]:
    """Separate small statements with '; ' and leave the last one without a semicolon."""
    fixed: list[cst.BaseSmallStatement] = []
    for i, small in enumerate(smalls):
        last = i == len(smalls) - 1
        if last:
            fixed.append(small.with_changes(semicolon=cst.MaybeSentinel.DEFAULT))
        elif isinstance(small.semicolon, cst.Semicolon):
            fixed.append(small)
        else:
            fixed.append(
                small.with_changes(
                    semicolon=cst.Semicolon(
                        whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace(" ")
                    )
                )
            )
    return fixed
