"""``verify --html FILE``: a self-contained HTML report.

One file, no network access and no JavaScript: inline CSS and inline SVG
charts drawn here (no plotting library needed).  It shows the verdict, the
per-batch loss of every run overlaid (one chart per captured training), the
first divergence marked on the chart, the per-variable max |diff| table, the
likely causes and the environment.  Built from the same report dict as the
terminal and ``--json`` reports.
"""

from __future__ import annotations

import math
from html import escape
from pathlib import Path
from typing import Any

from tf_repro_migrate.verify.compare import capture_label
from tf_repro_migrate.verify.report import environment_lines

# Run colours (colour-blind-safe palette); later runs are also dashed so
# identical curves drawn on top of each other stay visible.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f")
DIVERGENCE_COLOUR = "#d62728"
WIDTH, HEIGHT = 760, 300
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 70, 20, 20, 40

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em; color: #222; max-width: 1000px; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
.verdict { font-size: 1.3em; font-weight: bold; padding: .4em .7em; display: inline-block; border-radius: 4px; }
.REPRODUCIBLE { background: #d9f2d9; } .NOT-REPRODUCIBLE { background: #f9d6d5; }
.INCONCLUSIVE, .SCRIPT-FAILED { background: #fbeecb; }
table { border-collapse: collapse; margin: .5em 0; font-size: .9em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: left; }
td.num { text-align: right; font-family: ui-monospace, monospace; }
code, pre { font-family: ui-monospace, monospace; font-size: .9em; }
pre { background: #f6f6f6; padding: .6em; white-space: pre-wrap; }
.note { color: #555; }
svg text { font-family: system-ui, sans-serif; font-size: 11px; }
"""


def _loss(entry: dict[str, Any], metric: str) -> float | None:
    value = (entry.get("logs") or {}).get(metric)
    if value is None:
        return None
    try:
        number = float.fromhex(str(value))
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    if high <= low:
        return [low]
    raw = (high - low) / max(1, count - 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    return ticks


def loss_chart(series: list[tuple[str, list[float | None], bool]], metric: str,
               divergence: int | None, divergence_text: str, epoch_starts: list[int]) -> str:
    """An SVG line chart: ``series`` is (run label, value per batch, main run)."""
    values = [v for _, ys, _ in series for v in ys if v is not None]
    n = max((len(ys) for _, ys, _ in series), default=0)
    if not values or n == 0:
        return '<p class="note">(no per-batch values to draw)</p>'
    low, high = min(values), max(values)
    if high - low < 1e-12 * max(1.0, abs(high)):
        low, high = low - 0.5 * max(abs(low), 1e-3), high + 0.5 * max(abs(high), 1e-3)
    pad = (high - low) * 0.05
    low, high = low - pad, high + pad
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM

    def sx(i: float) -> float:
        return MARGIN_LEFT + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def sy(v: float) -> float:
        return MARGIN_TOP + plot_h * (high - v) / (high - low)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT + 24 * ((len(series) + 3) // 4)}" '
             f'role="img" aria-label="{escape(metric)} per batch, every run">']
    parts.append(f'<rect x="{MARGIN_LEFT}" y="{MARGIN_TOP}" width="{plot_w}" height="{plot_h}" fill="#fff" stroke="#999"/>')
    for tick in _nice_ticks(low, high):
        y = sy(tick)
        parts.append(f'<line x1="{MARGIN_LEFT}" x2="{MARGIN_LEFT + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>')
        parts.append(f'<text x="{MARGIN_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{tick:.4g}</text>')
    for epoch, start in enumerate(epoch_starts):
        x = sx(start)
        if epoch:
            parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{MARGIN_TOP}" y2="{MARGIN_TOP + plot_h}" stroke="#ddd"/>')
        parts.append(f'<text x="{x + 3:.1f}" y="{MARGIN_TOP + plot_h + 14}">epoch {epoch}</text>')
    parts.append(f'<text x="{MARGIN_LEFT + plot_w / 2:.0f}" y="{MARGIN_TOP + plot_h + 32}" text-anchor="middle">'
                 f'batch (in order of training); y: {escape(metric)}</text>')
    if divergence is not None and 0 <= divergence < n:
        x = sx(divergence)
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{MARGIN_TOP}" y2="{MARGIN_TOP + plot_h}" '
                     f'stroke="{DIVERGENCE_COLOUR}" stroke-width="2" stroke-dasharray="6 3"/>')
        anchor = "start" if divergence < n * 0.6 else "end"
        dx = 5 if anchor == "start" else -5
        parts.append(f'<text x="{x + dx:.1f}" y="{MARGIN_TOP + 14}" text-anchor="{anchor}" '
                     f'fill="{DIVERGENCE_COLOUR}" font-weight="bold">{escape(divergence_text)}</text>')
    for k, (label, ys, main) in enumerate(series):
        colour = PALETTE[k % len(PALETTE)]
        dash = "" if k == 0 else f' stroke-dasharray="{4 + 2 * k} {2 + k}"'
        points = " ".join(f"{sx(i):.1f},{sy(v):.1f}" for i, v in enumerate(ys) if v is not None)
        width = 2 if main else 1.2
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="{width}"{dash} points="{points}">'
                     f'<title>{escape(label)}</title></polyline>')
        lx = MARGIN_LEFT + (k % 4) * 175
        ly = HEIGHT + 14 + 24 * (k // 4)
        parts.append(f'<line x1="{lx}" x2="{lx + 26}" y1="{ly - 4}" y2="{ly - 4}" stroke="{colour}" stroke-width="2"{dash}/>')
        parts.append(f'<text x="{lx + 32}" y="{ly}">{escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _table(headers: list[str], rows: list[list[str]], numeric: set[int] | None = None) -> str:
    numeric = numeric or set()
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f'<td{" class=num" if i in numeric else ""}>{escape(str(c))}</td>' for i, c in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def _capture_charts(report: dict[str, Any]) -> list[str]:
    runs = [r for r in report.get("runs") or [] if r.get("captures")]
    if not runs:
        return ['<p class="note">No run captured a training.</p>']
    first = report.get("first_difference") or {}
    out: list[str] = []
    n_caps = max(len(r["captures"]) for r in runs)
    for index in range(n_caps):
        ref = next((r["captures"][index] for r in runs if len(r["captures"]) > index), None)
        if ref is None:
            continue
        out.append(f"<h3>{escape(capture_label(ref))}</h3>")
        batches = ref.get("batches") or []
        if not batches:
            step = first.get("step") if first.get("capture") == index else None
            text = (f"custom loop: no per-batch loss is logged outside fit(); gradients differ first at "
                    f"optimizer step {step}." if step is not None else
                    "custom loop: no per-batch loss is logged outside fit(); per-step gradient digests "
                    "and the final variables are compared.")
            out.append(f'<p class="note">{escape(text)}</p>')
            continue
        metric = "loss" if any("loss" in (b.get("logs") or {}) for b in batches) else \
            sorted((batches[0].get("logs") or {"?": None}).keys())[0]
        series = []
        for run in runs:
            caps = run["captures"]
            if len(caps) <= index:
                continue
            label = run["label"] + ("" if run.get("main") else " (diagnostic)")
            series.append((label, [_loss(b, metric) for b in caps[index].get("batches") or []], bool(run.get("main"))))
        base_caps = (report.get("baseline") or {}).get("baseline_captures") or []
        if len(base_caps) > index and base_caps[index].get("batches"):
            series.append(("baseline (" + str(report["baseline"].get("path")) + ")",
                           [_loss(b, metric) for b in base_caps[index]["batches"]], False))
        epoch_starts: list[int] = []
        last_epoch = None
        divergence = None
        for i, b in enumerate(batches):
            if b.get("epoch") != last_epoch:
                epoch_starts.append(i)
                last_epoch = b.get("epoch")
            if first.get("capture") == index and first.get("batch") is not None and \
                    (b.get("epoch"), b.get("batch")) == (first.get("epoch"), first.get("batch")):
                divergence = i
        text = ""
        if divergence is not None:
            text = f"first divergence: epoch {first.get('epoch')}, batch {first.get('batch')} ({first.get('metric')})"
        out.append(loss_chart(series, metric, divergence, text, epoch_starts))
        if divergence is None and all(s[1] == series[0][1] for s in series):
            out.append('<p class="note">All curves coincide: the runs logged bitwise identical values.</p>')
    return out


def _variable_tables(report: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for pair in report.get("comparisons") or []:
        if pair.get("identical"):
            continue
        for cap in pair.get("captures") or []:
            variables = cap.get("variables") or []
            if not variables:
                continue
            out.append(f"<h3>{escape(pair['run_a'])} vs {escape(pair['run_b'])}: {escape(cap['label'])}</h3>")
            out.append(f"<p>{len(variables)} of {cap.get('n_variables')} variables differ.</p>")
            ranked = sorted(variables, key=lambda v: -(v["max_abs_diff"] if v.get("max_abs_diff") is not None else -1.0))
            rows = [[v["name"], v["group"], "x".join(map(str, v["shape"])) or "scalar", v["dtype"],
                     _fmt(v.get("max_abs_diff")), _fmt(v.get("n_elements_differing")),
                     {True: "yes", False: "no", None: "n/a"}[v.get("allclose")]] for v in ranked]
            out.append(_table(["variable", "group", "shape", "dtype", "max |diff|", "elements differing", "allclose"],
                              rows, {4, 5}))
    if not out:
        out.append('<p class="note">No variable differs between the runs.</p>')
    return out


def render_html(report: dict[str, Any]) -> str:
    """The whole report as one self-contained HTML page."""
    verdict = str(report.get("verdict"))
    title = f"tf-repro-migrate verify: {report.get('script_name') or report.get('script')}"
    body: list[str] = [f"<h1>{escape(title)}</h1>"]
    command = f"tf-repro-migrate verify {report.get('script')}" + (
        f" -- {' '.join(report['args'])}" if report.get("args") else "")
    body.append(f"<p><code>{escape(command)}</code></p>")
    body.append(f'<p><span class="verdict {escape(verdict.replace(" ", "-"))}">{escape(verdict)}</span> '
                f"(exit {escape(str(report.get('exit_code')))})</p>")
    body.append(f"<p>{escape(str(report.get('summary', '')))}</p>")
    for note in report.get("coverage_notes") or []:
        body.append(f'<p class="note">Note: {escape(note)}</p>')
    baseline = report.get("baseline")
    if baseline:
        body.append("<h2>Against the baseline</h2>")
        body.append(f"<p>{escape(str(baseline.get('message', '')))}</p>")
    body.append("<h2>Runs</h2>")
    rows = []
    for run in report.get("runs") or []:
        caps = run.get("captures") or []
        rows.append([run.get("label"), "yes" if run.get("main") else "diagnostic", run.get("hash_seed"),
                     f"+{run['seed_offset']}" if run.get("seed_offset") else "-",
                     "timed out" if run.get("timed_out") else run.get("exit_code"),
                     f"{run.get('duration_s', 0):.1f}s", len(caps),
                     sum(len(c.get("batches") or []) for c in caps)])
    body.append(_table(["run", "main", "PYTHONHASHSEED", "seed shift", "exit", "time", "trainings", "batches"],
                       rows, {6, 7}))
    body.append("<h2>Per-batch loss of every run</h2>")
    body += _capture_charts(report)
    body.append("<h2>Variables that differ (max |diff| per variable)</h2>")
    body += _variable_tables(report)
    hints = report.get("hints") or []
    if hints and verdict == "NOT REPRODUCIBLE":
        body.append("<h2>Likely causes</h2><ul>")
        for hint in hints:
            where = f"{report.get('script_name')}:{hint['line']}" if hint.get("line") else hint.get("source")
            body.append(f"<li>[{escape(str(where))}] {escape(str(hint.get('message')))}</li>")
        body.append("</ul>")
    failure = report.get("failure")
    if failure:
        body.append("<h2>Failure</h2>")
        if failure.get("explanation"):
            body.append(f"<p>{escape(failure['explanation'])}</p>")
        body.append(f"<pre>{escape(failure.get('log_tail') or '(empty log)')}</pre>")
    body.append("<h2>Environment</h2>")
    env_text = "\n".join(line.strip() for line in environment_lines(report.get("environment") or {}))
    body.append(f"<pre>{escape(env_text)}</pre>")
    for note in report.get("environment_differences") or []:
        body.append(f'<p class="note">! {escape(note)}</p>')
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")


def write_html(report: dict[str, Any], path: str | Path) -> None:
    """Write the HTML report (atomically: temporary file, then rename)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(render_html(report), encoding="utf-8")
    tmp.replace(target)
