"""``--compare-outputs`` and ``--compare-files``: what training leaves behind.

Training captures (losses, metrics, variables, optimizer state) are what the
verdict is about by default.  With ``--compare-outputs`` the harness also
digests the results of ``evaluate()`` and ``predict()`` called outside
``fit()``; with ``--compare-files GLOB`` the files matching GLOB in each
run's working directory are digested after the run.  This module digests the
files (in the parent, after each run) and compares both across runs.

Nothing here imports TensorFlow; numpy is imported lazily for max |diff|.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import Any

MAX_FILES = 1000
MAX_FILE_BYTES_HASHED = 1 << 30  # larger files: size and the first GiB's digest


def digest_files(root: Path, patterns: list[str]) -> dict[str, Any]:
    """sha256 and size of the regular files under ``root`` matching ``patterns``.

    Symbolic links are skipped: in a run's mirrored working directory they
    point to the user's originals, which the run did not write.
    """
    files: dict[str, dict[str, Any]] = {}
    truncated = False
    for pattern in patterns:
        for path in sorted(root.glob(pattern)):
            rel = path.relative_to(root).as_posix()
            if rel in files or path.is_symlink() or not path.is_file():
                continue
            if len(files) >= MAX_FILES:
                truncated = True
                break
            sha = hashlib.sha256()
            read = 0
            try:
                with open(path, "rb") as fh:
                    while read < MAX_FILE_BYTES_HASHED:
                        chunk = fh.read(1 << 20)
                        if not chunk:
                            break
                        sha.update(chunk)
                        read += len(chunk)
                files[rel] = {"sha256": sha.hexdigest(), "size": os.path.getsize(path)}
            except OSError as exc:
                files[rel] = {"error": exc.strerror or str(exc)}
    return {"patterns": list(patterns), "files": files, "truncated": truncated}


def _decode(digest: dict[str, Any]) -> Any:
    import numpy as np

    values = digest.get("values")
    if not isinstance(values, dict):
        return None
    raw = base64.b64decode(values["b64"])
    return np.frombuffer(raw, dtype=np.dtype(values["dtype"])).reshape(digest["shape"])


def _leaves(value: Any, prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
    """The array digests inside predict()'s (possibly nested) result."""
    if isinstance(value, dict) and "sha256" in value:
        return [(prefix or "output", value)]
    if isinstance(value, dict):
        return [leaf for k, v in value.items() for leaf in _leaves(v, f"{prefix}.{k}" if prefix else str(k))]
    if isinstance(value, list):
        return [leaf for i, v in enumerate(value) for leaf in _leaves(v, f"{prefix}[{i}]")]
    return []


def _max_abs_diff(a: dict[str, Any], b: dict[str, Any]) -> float | None:
    import numpy as np

    xa, xb = _decode(a), _decode(b)
    if xa is None or xb is None or xa.shape != xb.shape:
        return None
    delta = np.abs(xa.astype(np.float64) - xb.astype(np.float64))
    finite = delta[~np.isnan(delta)]
    return float(finite.max()) if finite.size else None


def _compare_output_lists(ref: list[dict[str, Any]], other: list[dict[str, Any]]) -> list[str]:
    diffs = []
    if len(ref) != len(other):
        diffs.append(f"{len(ref)} evaluate()/predict() calls vs {len(other)}")
    calls: dict[str, int] = {}
    for a, b in zip(ref, other):
        calls[str(a.get("kind"))] = calls.get(str(a.get("kind")), 0) + 1
        name = f"{a.get('kind')}() call {calls[str(a.get('kind'))]} on '{a.get('model_name')}'"
        if (a.get("kind"), a.get("model_class")) != (b.get("kind"), b.get("model_class")):
            diffs.append(f"{name}: a different call ({b.get('kind')} of {b.get('model_class')})")
            continue
        if a.get("kind") == "evaluate":
            for metric in sorted(set(a.get("values") or {}) | set(b.get("values") or {})):
                va, vb = (a.get("values") or {}).get(metric), (b.get("values") or {}).get(metric)
                if va != vb:
                    diffs.append(f"{name}: {metric} {_fmt_hex(va)} vs {_fmt_hex(vb)}")
            continue
        leaves_a, leaves_b = _leaves(a.get("digest")), _leaves(b.get("digest"))
        for (path, da), (_, db) in zip(leaves_a, leaves_b):
            if da.get("sha256") != db.get("sha256"):
                mad = _max_abs_diff(da, db)
                diffs.append(f"{name}: {path} {'x'.join(map(str, da.get('shape') or []))} differs"
                             + (f" (max |diff| {mad:.3g})" if mad is not None else ""))
        if len(leaves_a) != len(leaves_b):
            diffs.append(f"{name}: {len(leaves_a)} output arrays vs {len(leaves_b)}")
    return diffs


def _fmt_hex(text: Any) -> str:
    try:
        return f"{float.fromhex(str(text)):.9g}"
    except (TypeError, ValueError):
        return str(text)


def compare_runs(runs: list[tuple[str, dict[str, Any] | None, dict[str, Any] | None]],
                 outputs: bool, files: bool) -> dict[str, Any]:
    """Compare outputs and/or files of each run with the first run.

    ``runs`` holds (label, harness result, digested files) per main run.
    """
    ref_label, ref_result, ref_files = runs[0]
    report: dict[str, Any] = {"outputs_compared": outputs, "files_compared": files, "differences": []}
    if outputs:
        ref_outputs = (ref_result or {}).get("outputs") or []
        report["n_outputs"] = len(ref_outputs)
        for label, result, _ in runs[1:]:
            for diff in _compare_output_lists(ref_outputs, (result or {}).get("outputs") or []):
                report["differences"].append(f"{label} vs {ref_label}: {diff}")
    if files:
        ref_map = (ref_files or {}).get("files") or {}
        report["n_files"] = len(ref_map)
        report["files"] = sorted(ref_map)
        for label, _, other in runs[1:]:
            other_map = (other or {}).get("files") or {}
            for name in sorted(set(ref_map) | set(other_map)):
                a, b = ref_map.get(name), other_map.get(name)
                if a is None or b is None:
                    report["differences"].append(
                        f"{label} vs {ref_label}: file {name} written by {label if a is None else ref_label} only")
                elif a.get("sha256") != b.get("sha256"):
                    report["differences"].append(
                        f"{label} vs {ref_label}: file {name} differs ({b.get('size')} vs {a.get('size')} bytes)")
    report["identical"] = not report["differences"]
    parts = []
    if outputs:
        parts.append(f"{report['n_outputs']} evaluate()/predict() result{'s' if report['n_outputs'] != 1 else ''}")
    if files:
        parts.append(f"{report['n_files']} file{'s' if report['n_files'] != 1 else ''} matching "
                     + ", ".join((ref_files or {}).get("patterns") or []))
    report["what"] = " and ".join(parts)
    return report


def summary(report: dict[str, Any]) -> str:
    """The verdict summary when training agreed but outputs or files did not."""
    first = report["differences"][0]
    more = len(report["differences"]) - 1
    return (f"training was bitwise identical, but what it left behind differs: {first}"
            + (f" (and {more} more)" if more else "") + ".")


def render_text(report: dict[str, Any]) -> str:
    """The outputs/files section of the terminal report."""
    lines = [""]
    state = "identical in every run" if report["identical"] else "DIFFERENT"
    lines.append(f"Compared beyond training: {report['what']}: {state}.")
    if report.get("files_compared") and not report.get("n_files"):
        lines.append("  ! no file matched --compare-files in the first run's working directory")
    for diff in report["differences"][:20]:
        lines.append(f"  ! {diff}")
    if len(report["differences"]) > 20:
        lines.append(f"  ... {len(report['differences']) - 20} more (see --json)")
    return "\n".join(lines) + "\n"
