"""Render the verify report: a terminal text report and the ``--json`` file.

Both are produced from the same JSON-friendly dict that ``cli`` assembles,
so the terminal never shows anything the JSON file lacks.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from tf_repro_migrate.verify.compare import capture_label

VERDICT_EXIT_CODES = {
    "REPRODUCIBLE": 0,
    "NOT REPRODUCIBLE": 1,
    "SCRIPT FAILED": 2,
    "INCONCLUSIVE": 3,
}


def scope(max_steps: int | None) -> dict[str, Any]:
    """What the verdict covers, and what it does not."""
    compared = [("training of every fit() and custom loop: per-batch and per-epoch losses and "
                 "metrics, model variables, optimizer state")]
    if max_steps:
        compared[0] += f", for the first {max_steps} batches of each fit() only (--max-steps)"
    not_compared = ["evaluate() and predict() results", "files the script writes"]
    text = "compared: " + compared[0] + "; not compared: " + ", ".join(not_compared) + "."
    return {"compared": compared, "not_compared": not_compared, "max_steps": max_steps, "text": text}


def strip_values(captures: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Copy of captures without the raw variable contents (digests stay)."""
    out = copy.deepcopy(captures)
    for capture in out:
        capture.pop("probe_batch", None)
        for key in ("variables", "optimizer_variables"):
            for var in capture.get(key, []):
                if var.get("values") is not None:
                    var["values"] = "stored (omitted from the report)"
    return out


def write_json(report: dict[str, Any], path: str | Path) -> None:
    """Write the full report as JSON."""
    target = Path(path)
    if target.parent and not target.parent.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(report, indent=2, sort_keys=False) + "\n", encoding="utf-8")


def _fmt_float(text: Any) -> str:
    if text is None:
        return "missing"
    try:
        return f"{float.fromhex(str(text)):.9g}"
    except ValueError:
        return str(text)


def _fmt_num(value: Any) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3g}"


def _table(headers: list[str], rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    lines = [indent + "  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()]
    for row in rows:
        lines.append(indent + "  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())
    return lines


def _capture_summary(capture: dict[str, Any]) -> str:
    n_model = len(capture.get("variables", []))
    n_opt = len(capture.get("optimizer_variables", []))
    if capture.get("kind") == "fit":
        epochs = len(capture.get("epochs", []))
        batches = len(capture.get("batches", []))
        extra = " (stopped by --max-steps)" if capture.get("truncated") else ""
        return f"{epochs} epochs, {batches} batches{extra}, {n_model} model + {n_opt} optimizer variables"
    if capture.get("kind") == "train_on_batch":
        extra = " (stopped by --max-steps)" if capture.get("truncated") else ""
        return (f"{len(capture.get('batches', []))} train_on_batch calls{extra}, {n_model} model + "
                f"{n_opt} optimizer variables")
    steps = capture.get("iterations")
    if steps is None:
        steps = capture.get("apply_calls")
    per_step = "per-step gradient digests" if capture.get("per_step") else "end state only (tf.function)"
    return f"{steps} optimizer steps, {n_model} trained + {n_opt} optimizer variables, {per_step}"


def environment_lines(env: dict[str, Any]) -> list[str]:
    """Describe the environment fingerprint in a few lines."""
    if not env:
        return ["  (no environment recorded)"]
    lines = [
        f"  Python {env.get('python')} ({env.get('python_implementation')}) on {env.get('platform')}",
        f"  CPU: {env.get('cpu')} x{env.get('cpu_count')}",
    ]
    tf_info = env.get("tensorflow")
    if tf_info:
        det = tf_info.get("op_determinism")
        det_text = "on" if det else ("off" if det is False else "unknown")
        lines.append(
            f"  TensorFlow {tf_info.get('version')}: devices {', '.join(tf_info.get('devices') or []) or 'none'}; "
            f"intra-op threads {tf_info.get('intra_op_threads')}, inter-op threads "
            f"{tf_info.get('inter_op_threads')} (0 = TensorFlow's default); op determinism {det_text}"
        )
    else:
        lines.append("  TensorFlow: not imported by the script")
    keras = env.get("keras")
    keras_text = f"Keras {keras.get('version')} (backend {keras.get('backend')})" if keras else "Keras: not imported"
    lines.append(f"  {keras_text}; numpy {env.get('numpy') or 'not imported'}")
    env_vars = env.get("env") or {}
    shown = [f"{k}={v if v is not None else 'unset'}" for k, v in env_vars.items() if k != "PYTHONHASHSEED"]
    lines.append("  " + " ".join(shown[:5]))
    if shown[5:]:
        lines.append("  " + " ".join(shown[5:]))
    return lines


def _run_rows(report: dict[str, Any]) -> list[list[str]]:
    rows = []
    for run in report.get("runs", []):
        caps = run.get("captures") or []
        fits = sum(1 for c in caps if c.get("kind") in ("fit", "train_on_batch"))
        loops = len(caps) - fits
        batches = sum(len(c.get("batches", [])) for c in caps)
        status = "timed out" if run.get("timed_out") else str(run.get("exit_code"))
        rows.append([
            run["label"], str(run.get("hash_seed")), "+" + str(run["seed_offset"]) if run.get("seed_offset") else "-",
            status, f"{run.get('duration_s', 0):.1f}s",
            f"{fits} fit, {loops} custom loop, {batches} batches",
        ])
    return rows


def _difference_lines(pair: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    differing = [c for c in pair.get("captures", []) if not c.get("identical")]
    lines.append(
        f"  {pair['run_a']} vs {pair['run_b']}: {len(differing)} of {len(pair.get('captures', []))} "
        f"captured trainings differ; values are {_closeness_text(pair.get('closeness'))}"
    )
    for note in pair.get("structural", []):
        lines.append(f"    ! {note}")
    for cap in differing:
        lines.append(f"  {cap['label']}:")
        for note in cap.get("structural", []):
            lines.append(f"    ! {note}")
        fb = cap.get("first_batch")
        if fb:
            lines.append(
                f"    first differing batch: epoch {fb['epoch']}, batch {fb['batch']}: {fb['metric']} "
                f"{_fmt_float(fb['a'])} vs {_fmt_float(fb['b'])} (|diff| {_fmt_num(fb['abs_diff'])})"
            )
        elif cap.get("first_step") is not None:
            lines.append(f"    first differing optimizer step (gradients): step {cap['first_step']}")
        fe = cap.get("first_epoch")
        if fe:
            lines.append(
                f"    first differing epoch log: epoch {fe['epoch']}: {fe['metric']} "
                f"{_fmt_float(fe['a'])} vs {_fmt_float(fe['b'])}"
            )
        variables = cap.get("variables", [])
        if variables:
            lines.append(f"    variables differing: {len(variables)} of {cap.get('n_variables')}")
            ranked = sorted(variables, key=lambda v: -(v["max_abs_diff"] if v["max_abs_diff"] is not None else -1.0))
            rows = []
            for var in ranked[:12]:
                allclose = {True: "yes", False: "no", None: "n/a"}[var.get("allclose")]
                rows.append([
                    var["name"], var["group"], "x".join(map(str, var["shape"])) or "scalar",
                    var["dtype"], _fmt_num(var.get("max_abs_diff")), allclose,
                ])
            lines += _table(["variable", "group", "shape", "dtype", "max |diff|", "allclose"], rows, "      ")
            if len(ranked) > 12:
                lines.append(f"      ... {len(ranked) - 12} more (see --json)")
    return lines


def _closeness_text(closeness: str | None) -> str:
    return {
        "close": "close (numpy.allclose holds everywhere)",
        "close where measured": "close where measured (numpy.allclose; large variables compared by digest only)",
        "far apart": "far apart (numpy.allclose fails)",
        "unknown": "of unknown distance (only digests available)",
        "identical": "identical",
    }.get(closeness or "", str(closeness))


def _hint_line(report: dict[str, Any], hint: dict[str, Any]) -> str:
    name = hint.get("file") or report.get("script_name")
    where = f"{name}:{hint['line']}" if hint.get("line") else hint["source"]
    return f"  - [{where}] {hint['message']}"


def render_text(report: dict[str, Any]) -> str:
    """The human-readable report printed on the terminal."""
    lines: list[str] = []
    opts = report.get("options", {})
    lines.append(
        f"tf-repro-migrate verify {report['script']}"
        + (f" -- {' '.join(report['args'])}" if report.get("args") else "")
    )
    hash_mode = "pinned by your environment" if report.get("hash_seed_pinned_by_user") else "different per run"
    escalation = report.get("escalation") or {}
    runs_text = f"{opts.get('runs')} runs"
    if escalation.get("escalated"):
        runs_text = (f"{escalation.get('runs')} runs (raised from {escalation.get('default_runs')}: "
                     f"hazards found; --runs N sets the number)")
        if escalation.get("stopped_early"):
            runs_text += f", stopped after {escalation.get('runs_done')} at the first difference"
    lines.append(
        f"  {runs_text}, PYTHONHASHSEED {hash_mode}"
        + (f", --max-steps {opts['max_steps']}" if opts.get("max_steps") else "")
        + (", --control" if opts.get("control") else "")
    )
    lines.append("")
    lines += _table(["run", "PYTHONHASHSEED", "seed shift", "exit", "time", "captured"], _run_rows(report))
    lines.append("")

    ref = report.get("reference_captures") or []
    if ref:
        lines.append("Captured trainings (run 1):")
        for cap in ref:
            lines.append(f"  {capture_label(cap)}: {_capture_summary(cap)}")
        seeds = report.get("reference_seed_calls") or []
        shown = [f"{c['fn']}({c['value']})" for c in seeds if c.get("value") is not None]
        lines.append("  seeds set by the script: " + (", ".join(shown[:8]) if shown else "none"))
        lines.append("")

    verdict = report["verdict"]
    max_steps = opts.get("max_steps")
    covers = (f" for the first {max_steps} batch{'es' if max_steps != 1 else ''} of each fit() only"
              if max_steps and verdict in ("REPRODUCIBLE", "NOT REPRODUCIBLE") else "")
    lines.append(f"VERDICT: {verdict}{covers} (exit {report['exit_code']})")
    lines.append(f"  {report.get('summary', '')}")
    agreement = report.get("agreement")
    if agreement:
        lines.append(f"  {agreement['message']}")
    if report.get("scope"):
        lines.append(f"  Scope: {report['scope']['text']}")
    divergence = report.get("divergence")
    if divergence:
        lines.append(f"  First divergence: {divergence['message']}")
    for note in report.get("coverage_notes") or []:
        lines.append(f"  Note: {note}")

    failure = report.get("failure")
    if failure:
        lines.append("")
        reason = "timed out" if failure.get("timed_out") else f"exited with status {failure.get('exit_code')}"
        lines.append(f"{failure['run']} {reason}." + (f" {failure['detail']}" if failure.get("detail") else ""))
        if failure.get("explanation"):
            lines.append(f"  Cause: {failure['explanation']}")
        lines.append(f"  Last lines of its log ({failure.get('log')}):")
        for line in (failure.get("log_tail") or "(empty log)").splitlines():
            lines.append(f"    | {line}")

    for pair in report.get("comparisons", []):
        if not pair.get("identical"):
            lines.append("")
            lines += _difference_lines(pair)

    diag = report.get("hash_seed_diagnosis")
    if diag and diag.get("performed"):
        lines.append("")
        lines.append(f"PYTHONHASHSEED check: {diag['message']}")

    control = report.get("control")
    if control:
        lines.append("")
        if control.get("performed") is False:
            lines.append(f"Control run: {control['message']}")
        else:
            lines.append(f"Control run (every global seed +{control.get('seed_offset')}): {control['message']}")

    hints = report.get("hints") or []
    hazards = report.get("hazards") or []
    if hints and verdict == "NOT REPRODUCIBLE":
        lines.append("")
        lines.append("Likely causes:")
        lines += [_hint_line(report, hint) for hint in hints]
    elif hazards:
        lines.append("")
        lines.append("Hazards (sources of differences that may show in only some runs; "
                     "static scan of the script and its local modules, and the run):")
        lines += [_hint_line(report, hint) for hint in hazards]

    lines.append("")
    lines.append("This verdict holds for this environment only (recorded in each run):")
    lines += environment_lines(report.get("environment") or {})
    for note in report.get("environment_differences") or []:
        lines.append(f"  ! {note}")
    if report.get("logs_kept"):
        lines.append(f"Logs and per-run results kept in {report['logs_kept']}")
    return "\n".join(lines) + "\n"
