"""Findings -> machine-readable reports: JSON, and SARIF 2.1.0 for code-scanning tools.

In both, ``applied`` means the fix is part of this run's result (written with
``--write``, shown in the diff otherwise) and ``written`` that it reached the disk.
SARIF levels: manual findings and held-back unsafe fixes are ``warning``, fixes
that the run applies are ``note``; files that could not be processed are
``error`` notifications of the invocation. Notebook findings carry the cell in the
message and in ``properties`` (their lines count within the cell, not the JSON).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from tf_repro_migrate import __version__
from tf_repro_migrate.findings import Safety
from tf_repro_migrate.pipeline import FileResult, Replacement

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFO_URI = "https://pypi.org/project/tf-repro-migrate/"


@dataclass
class RunReport:
    """Everything one run found, collected as files are processed."""

    mode: str  # "diff" | "write" | "check"
    files: list[FileResult] = field(default_factory=list)
    summary: dict[str, int] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)

    def errors(self) -> list[dict[str, object]]:
        out: list[dict[str, object]] = [{"file": p, "cell": None, "message": "no such file or directory"}
                                        for p in self.missing]
        for r in self.files:
            if r.status == "error":
                out.append({"file": r.path, "cell": None, "message": r.error})
            for problem in r.problems:
                cell, _, message = problem.partition(": ")
                out.append({"file": r.path, "cell": int(cell.split()[-1]) if cell.startswith("cell ") else None,
                            "message": message})
        return out


def _rule_names() -> dict[str, tuple[str, str, Safety]]:
    from tf_repro_migrate.rules import all_rules

    return {r.code: (r.name, r.summary, r.safety) for r in all_rules()}


def _fix(r: FileResult, index: int) -> list[Replacement] | None:
    return r.fixes[index] if index < len(r.fixes) else None


def to_json(report: RunReport) -> str:
    names = _rule_names()
    findings = []
    for r in report.files:
        for index, f in enumerate(r.findings):
            replacements = _fix(r, index)
            findings.append({
                "file": r.path,
                "cell": f.cell,
                "line": f.line,
                "column": f.col,
                "code": f.code,
                "rule": names.get(f.code, ("", "", Safety.MANUAL))[0],
                "safety": f.safety.value,
                "message": f.message,
                "applied": f.applied,
                "written": f.applied and r.status == "written",
                # the fix applied alone: lines start..end (end excluded, columns from 1) become text
                "fix": None if replacements is None else {"replacements": [
                    {"start": {"line": x.start_line, "column": 1}, "end": {"line": x.end_line, "column": 1},
                     "text": x.text} for x in replacements]},
            })
    doc = {
        "tool": "tf-repro-migrate",
        "version": __version__,
        "mode": report.mode,
        "findings": findings,
        "errors": report.errors(),
        "changed_files": [r.path for r in report.files if r.changed],
        "summary": report.summary,
    }
    return json.dumps(doc, indent=2) + "\n"


def _level(safety: Safety, applied: bool) -> str:
    return "note" if applied and safety is not Safety.MANUAL else "warning"


def to_sarif(report: RunReport) -> str:
    names = _rule_names()
    codes = sorted(names)
    rules = [
        {
            "id": code,
            "name": names[code][0],
            "shortDescription": {"text": names[code][1]},
            "helpUri": INFO_URI,
            "defaultConfiguration": {"level": "warning" if names[code][2] is not Safety.SAFE else "note"},
            "properties": {"safety": names[code][2].value},
        }
        for code in codes
    ]
    results = []
    for r in report.files:
        artifact = artifact_location(r.path)
        for index, f in enumerate(r.findings):
            location: dict[str, object] = {"artifactLocation": artifact}
            text = f.message
            if f.cell is None:
                location["region"] = {"startLine": f.line, "startColumn": f.col}
            else:
                text = f"cell {f.cell}, line {f.line}: {f.message}"
            results.append({
                "ruleId": f.code,
                "ruleIndex": codes.index(f.code) if f.code in codes else -1,
                "level": _level(f.safety, f.applied),
                "message": {"text": text},
                "locations": [{"physicalLocation": location}],
                **_sarif_fixes(artifact, f.message, _fix(r, index)),
                "properties": {"safety": f.safety.value, "applied": f.applied,
                               **({"cell": f.cell, "cellLine": f.line} if f.cell is not None else {})},
            })
    notifications = [
        {
            "level": "error",
            "message": {"text": f"{e['file']}: {e['message']}" + (f" (cell {e['cell']})" if e["cell"] else "")},
            "locations": [{"physicalLocation": {"artifactLocation": artifact_location(str(e["file"]))}}],
        }
        for e in report.errors()
    ]
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "tf-repro-migrate", "version": __version__,
                                    "informationUri": INFO_URI, "rules": rules}},
                "originalUriBaseIds": {SRCROOT: {"uri": _directory_uri(Path(os.getcwd()))}},
                "invocations": [{"executionSuccessful": not notifications,
                                 "toolExecutionNotifications": notifications}],
                "results": results,
            }
        ],
    }
    return json.dumps(doc, indent=2) + "\n"


SRCROOT = "SRCROOT"  # the current directory of the run: SARIF uris are relative to it


def _directory_uri(path: Path) -> str:
    uri = path.as_uri()
    return uri if uri.endswith("/") else uri + "/"


def artifact_location(path: str) -> dict[str, str]:
    """A SARIF artifactLocation: the percent-encoded path relative to SRCROOT (the current
    directory), or an absolute file URI for a file outside it."""
    absolute = Path(os.path.abspath(path))
    try:
        rel = absolute.relative_to(os.getcwd())
    except ValueError:
        return {"uri": absolute.as_uri()}
    return {"uri": quote(rel.as_posix(), safe="/"), "uriBaseId": SRCROOT}


def _sarif_fixes(artifact: dict[str, str], message: str,
                 replacements: list[Replacement] | None) -> dict[str, object]:
    if replacements is None:
        return {}
    return {"fixes": [{
        "description": {"text": message},
        "artifactChanges": [{
            "artifactLocation": artifact,
            "replacements": [
                {"deletedRegion": {"startLine": x.start_line, "startColumn": 1, "endLine": x.end_line,
                                   "endColumn": 1},
                 "insertedContent": {"text": x.text}}
                for x in replacements
            ],
        }],
    }]}


def render(report: RunReport, fmt: str) -> str:
    return to_sarif(report) if fmt == "sarif" else to_json(report)


def format_for(path: str, requested: str) -> str:
    """The format of ``--report FILE``: the requested one, else guessed from the file name."""
    if requested in ("json", "sarif"):
        return requested
    return "sarif" if path.endswith(".sarif") or path.endswith(".sarif.json") else "json"
