"""``verify --baseline REPORT.json``: did my change change my training?

Compares this verification's reference run with the reference run of a
``--json`` report saved earlier: in another environment (the previous
TensorFlow version, a ``tf_keras`` environment before the migration to
Keras 3) or before a code change.  Bitwise identity is not expected there,
so values are compared with a tolerance, ``|current - baseline| <= atol +
rtol * |baseline|`` (the ``numpy.isclose`` rule), and the loss-curve deltas
are reported.

Nothing here imports TensorFlow or Keras.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from tf_repro_migrate.verify.compare import capture_label

DEFAULT_RTOL = 1e-3
DEFAULT_ATOL = 1e-5
TOOL = "tf-repro-migrate verify"
# Exit code when the runs agree with each other (REPRODUCIBLE) but not with
# the baseline; the other verdicts keep their own codes.
EXIT_BASELINE_DIFFERS = 4
NOT_BITWISE = ("bitwise identity with a baseline from another environment or code version "
               "is not expected; values are compared within the tolerance only")


class BaselineError(Exception):
    """The baseline file cannot be used (one-line message naming the file)."""


def load(path: str | Path) -> dict[str, Any]:
    """Read and check a saved ``--json`` report."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise BaselineError(f"cannot read baseline {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise BaselineError(f"baseline {path} is not JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("tool") != TOOL or not isinstance(data.get("runs"), list):
        raise BaselineError(f"baseline {path} is not a report written by `{TOOL} --json`")
    if not data.get("reference_captures"):
        raise BaselineError(f"baseline {path} captured no training (verdict {data.get('verdict')})")
    return data


def _value(text: Any) -> float | None:
    try:
        number = float.fromhex(str(text))
    except (TypeError, ValueError):
        try:
            number = float(text)
        except (TypeError, ValueError):
            return None
    return number


def _close(current: float, base: float, rtol: float, atol: float) -> bool:
    if math.isnan(current) or math.isnan(base):
        return math.isnan(current) and math.isnan(base)
    return abs(current - base) <= atol + rtol * abs(base)


def _curve(capture: dict[str, Any], metric: str) -> list[tuple[int | None, int | None, float | None]]:
    return [(b.get("epoch"), b.get("batch"), _value((b.get("logs") or {}).get(metric)))
            for b in capture.get("batches") or []]


def compare_capture(current: dict[str, Any], base: dict[str, Any], rtol: float, atol: float) -> dict[str, Any]:
    """Loss-curve and variable deltas of one captured training."""
    out: dict[str, Any] = {"label": capture_label(current), "baseline_label": capture_label(base),
                           "notes": [], "within_tolerance": True}
    if current.get("kind") != base.get("kind"):
        out["notes"].append(f"kind differs: {current.get('kind')} vs {base.get('kind')} in the baseline")
        out["within_tolerance"] = False
    logs_c = (current.get("batches") or [{}])[0].get("logs") or {}
    metric = "loss" if "loss" in logs_c else (sorted(logs_c)[0] if logs_c else None)
    out["metric"] = metric
    if metric is not None:
        cur, old = _curve(current, metric), _curve(base, metric)
        if len(cur) != len(old):
            out["notes"].append(f"{len(cur)} batches vs {len(old)} in the baseline; the common prefix is compared")
            out["within_tolerance"] = False
        deltas: list[float] = []
        worst: tuple[float, int | None, int | None] | None = None
        first_out: dict[str, Any] | None = None
        for (epoch, batch, a), (_, _, b) in zip(cur, old):
            if a is None or b is None:
                continue
            delta = abs(a - b)
            deltas.append(delta)
            if worst is None or delta > worst[0]:
                worst = (delta, epoch, batch)
            if first_out is None and not _close(a, b, rtol, atol):
                first_out = {"epoch": epoch, "batch": batch, "current": a, "baseline": b, "abs_diff": delta}
        out["batches_compared"] = len(deltas)
        out["max_abs_delta"] = worst[0] if worst else None
        out["max_abs_delta_at"] = {"epoch": worst[1], "batch": worst[2]} if worst else None
        out["mean_abs_delta"] = sum(deltas) / len(deltas) if deltas else None
        out["first_outside_tolerance"] = first_out
        out["final"] = {"current": cur[-1][2] if cur else None, "baseline": old[-1][2] if old else None}
        out["deltas"] = deltas
        if first_out is not None:
            out["within_tolerance"] = False
    # The saved report keeps digests and min/max/sum of each variable (not
    # the values): equal digests, or sums within the tolerance.
    base_vars = {v.get("name"): v for v in (base.get("variables") or []) + (base.get("optimizer_variables") or [])}
    identical = close = differ = missing = 0
    for var in (current.get("variables") or []) + (current.get("optimizer_variables") or []):
        other = base_vars.get(var.get("name"))
        if other is None or other.get("shape") != var.get("shape"):
            missing += 1
            continue
        if var.get("sha256") == other.get("sha256"):
            identical += 1
            continue
        sa, sb = _value((var.get("summary") or {}).get("sum")), _value((other.get("summary") or {}).get("sum"))
        if sa is not None and sb is not None and _close(sa, sb, rtol, atol):
            close += 1
        else:
            differ += 1
    out["variables"] = {"bitwise_identical": identical, "sum_within_tolerance": close,
                        "sum_outside_tolerance": differ, "not_in_baseline": missing}
    if differ or missing:
        out["within_tolerance"] = False
    return out


def _environment_changes(current: dict[str, Any] | None, base: dict[str, Any] | None) -> list[str]:
    def flat(env: dict[str, Any] | None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in (env or {}).items():
            if isinstance(value, dict):
                out.update({f"{key}.{sub}": v for sub, v in value.items()})
            else:
                out[key] = value
        out.pop("env.PYTHONHASHSEED", None)
        return out

    a, b = flat(current), flat(base)
    return [f"{key}: {b.get(key)!r} -> {a.get(key)!r}" for key in sorted(set(a) | set(b)) if a.get(key) != b.get(key)]


def compare(current_captures: list[dict[str, Any]], current_env: dict[str, Any] | None,
            baseline: dict[str, Any], path: str, rtol: float, atol: float) -> dict[str, Any]:
    """Compare the reference run's captures with the baseline report's."""
    base_caps = baseline.get("reference_captures") or []
    captures = [compare_capture(c, b, rtol, atol) for c, b in zip(current_captures, base_caps)]
    notes = []
    if len(current_captures) != len(base_caps):
        notes.append(f"{len(current_captures)} captured trainings vs {len(base_caps)} in the baseline")
    within = bool(captures) and not notes and all(c["within_tolerance"] for c in captures)
    env_changes = _environment_changes(current_env, baseline.get("environment"))
    parts = []
    for cap in captures:
        if cap.get("metric") is None:
            parts.append(f"{cap['label']}: no per-batch values; variables {cap['variables']}")
            continue
        text = (f"{cap['label']}: {cap['batches_compared']} batches, max |delta {cap['metric']}| "
                f"{_fmt(cap['max_abs_delta'])}")
        at = cap.get("max_abs_delta_at")
        if at and at.get("batch") is not None:
            text += f" (epoch {at['epoch']}, batch {at['batch']})"
        text += f", final {cap['metric']} {_fmt(cap['final']['current'])} vs {_fmt(cap['final']['baseline'])} in the baseline"
        first = cap.get("first_outside_tolerance")
        if first:
            text += f"; outside the tolerance from epoch {first['epoch']}, batch {first['batch']}"
        parts.append(text)
    head = (f"{'within' if within else 'OUTSIDE'} the tolerance (rtol={rtol:g}, atol={atol:g}) of the "
            f"baseline {path}")
    message = head + ". " + "; ".join(parts + notes) + f". Note: {NOT_BITWISE}."
    return {"path": path, "rtol": rtol, "atol": atol, "within_tolerance": within,
            "baseline_verdict": baseline.get("verdict"), "captures": captures, "notes": notes,
            "environment_changes": env_changes, "message": message,
            "baseline_captures": [{"index": c.get("index"), "kind": c.get("kind"), "batches": c.get("batches") or []}
                                  for c in base_caps]}


def _fmt(value: Any) -> str:
    return "n/a" if value is None else f"{value:.6g}"


def render_text(result: dict[str, Any]) -> str:
    """The baseline section of the terminal report."""
    lines = ["", f"Baseline: {result['message']}"]
    for cap in result.get("captures") or []:
        for note in cap.get("notes") or []:
            lines.append(f"  ! {cap['label']}: {note}")
        v = cap.get("variables") or {}
        lines.append(f"  {cap['label']}: variables {v.get('bitwise_identical', 0)} bitwise identical, "
                     f"{v.get('sum_within_tolerance', 0)} with sums within the tolerance, "
                     f"{v.get('sum_outside_tolerance', 0)} outside, {v.get('not_in_baseline', 0)} not in the baseline")
    if result.get("environment_changes"):
        lines.append("  Environment changes since the baseline:")
        lines += [f"    {c}" for c in result["environment_changes"][:20]]
    return "\n".join(lines) + "\n"
