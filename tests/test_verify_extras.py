"""Tests of ``verify``'s wider coverage and its extra reports.

Keras 2 / tf_keras scripts, MirroredStrategy, optimizers kept as model
attributes, train_on_batch loops, --max-steps on custom loops, scripts that
train in a subprocess; and --html, --baseline, --launcher, --compare-outputs
and --compare-files.  Every TensorFlow test trains a real tiny model on the
CPU, either through the real command (``python -m
tf_repro_migrate.verify.cli``) or, where one run is enough, through the
harness alone (``python -m tf_repro_migrate.verify.harness``), which is what
each verify run executes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tf_repro_migrate.verify import runner
from verify_helpers import SCRIPTS, Verified, main_runs, verify, verify_env

_env = verify_env


def harness(tmp: Path, script: str, *args: str, options: tuple[str, ...] = (), timeout: float = 240) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """One run of the harness on a script; returns the process and its result file."""
    result = tmp / f"{script}.{len(list(tmp.glob('*.json')))}.json"
    cmd = [sys.executable, "-m", "tf_repro_migrate.verify.harness", "--result", str(result), *options,
           str(SCRIPTS / script), *args]
    proc = subprocess.run(cmd, cwd=tmp, env=_env(), capture_output=True, text=True, timeout=timeout)
    return proc, json.loads(result.read_text())



@pytest.fixture(scope="module")
def tf_available() -> None:
    pytest.importorskip("tensorflow")
    pytest.importorskip("keras")


@pytest.fixture(scope="module")
def tf_keras_available(tf_available: None) -> None:
    pytest.importorskip("tf_keras")


# ---------------------------------------------------------------------------
# 1. Keras 2 / tf_keras
# ---------------------------------------------------------------------------


def test_tf_keras_fit_and_train_on_batch_are_captured(tf_keras_available: None, tmp_path: Path) -> None:
    result = verify(tmp_path, "tf_keras_fit.py")
    assert result.code == 0, result
    assert "never called" not in result.out
    runs = main_runs(result.report)
    caps = runs[0]["captures"]
    assert [c["kind"] for c in caps] == ["fit", "train_on_batch"], result
    fit, tob = caps
    assert fit["model_class"].startswith("tf_keras.")
    assert fit["optimizer_class"] == "tf_keras.src.optimizers.adam.Adam"
    assert len(fit["batches"]) == 8 and len(fit["epochs"]) == 2
    assert len(fit["variables"]) == 4 and len(fit["optimizer_variables"]) > 4  # Adam slots digested
    assert len(tob["batches"]) == 4 and tob["batches"][0]["logs"]["loss"].startswith("0x")
    assert runs[0]["captures"] == runs[1]["captures"]


def test_tf_use_legacy_keras_with_a_legacy_optimizer_is_compared(tf_keras_available: None, tmp_path: Path) -> None:
    # TF_USE_LEGACY_KERAS=1 set by the script, tf.keras, the legacy
    # OptimizerV2 (whose `variables` is a method); unseeded, so the runs differ.
    result = verify(tmp_path, "tf_keras_fit.py", "--", "--legacy-env", "--legacy-optimizer", "--unseeded")
    assert result.code == 1, result
    caps = main_runs(result.report)[0]["captures"]
    assert [c["kind"] for c in caps] == ["fit", "train_on_batch"]
    assert caps[0]["optimizer_class"] == "tf_keras.src.optimizers.legacy.gradient_descent.SGD"
    assert caps[0]["optimizer_variables"], "the legacy optimizer's variables were not digested"
    first = result.report["first_difference"]
    assert first["label"].startswith("fit #1") and first["batch"] == 0, result


def test_tf_keras_custom_loop_is_captured(tf_keras_available: None, tmp_path: Path) -> None:
    proc, res = harness(tmp_path, "tf_keras_loop.py")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [c["kind"] for c in res["captures"]] == ["optimizer"]
    loop = res["captures"][0]
    assert loop["optimizer_class"].startswith("tf_keras.") and loop["apply_calls"] == 6
    assert len(loop["step_digests"]) == 6 and loop["iterations"] == 6
    assert loop["variables"] and loop["optimizer_variables"]


# ---------------------------------------------------------------------------
# 2. Coverage of what trains
# ---------------------------------------------------------------------------


def test_mirrored_strategy_fit_is_counted_once(tf_available: None, tmp_path: Path) -> None:
    proc, res = harness(tmp_path, "mirrored_fit.py")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "replicas 1" in proc.stdout
    assert [c["kind"] for c in res["captures"]] == ["fit"]
    assert len(res["captures"][0]["batches"]) == 4


def test_gan_optimizers_kept_as_attributes_are_digested_by_name(tf_available: None, tmp_path: Path) -> None:
    result = verify(tmp_path, "gan.py", "--", "--unseeded")
    assert result.code == 1, result
    fit = main_runs(result.report)[0]["captures"][0]
    assert [o["attribute"] for o in fit["optimizers"]] == ["optimizer", "d_optimizer", "g_optimizer"]
    names = [v["name"] for v in fit["optimizer_variables"]]
    assert any(n.startswith("d_optimizer/") and "momentum" in n for n in names), names
    assert any(n.startswith("g_optimizer/") and "velocity" in n for n in names), names
    differing = {v["name"] for c in result.report["comparisons"][0]["captures"] for v in c["variables"]}
    assert any(n.startswith("g_optimizer/") for n in differing), differing
    assert "g_optimizer/" in result.out
    assert "optimizers kept as model attributes were compared too: d_optimizer (Adam), g_optimizer (Adam)" in result.out


def test_train_on_batch_reports_the_first_differing_call(tf_available: None, tmp_path: Path) -> None:
    result = verify(tmp_path, "train_on_batch.py", "--", "--unseeded")
    assert result.code == 1, result
    caps = main_runs(result.report)[0]["captures"]
    assert [c["kind"] for c in caps] == ["train_on_batch"]
    assert len(caps[0]["batches"]) == 8
    first = result.report["first_difference"]
    assert first["label"].startswith("train_on_batch #1") and first["batch"] == 0 and first["metric"] == "loss"
    assert "custom loop" not in first["label"]


@pytest.mark.parametrize("mode", ["tf.function", "eager"])
def test_max_steps_stops_a_custom_loop_cleanly(tf_available: None, tmp_path: Path, mode: str) -> None:
    args = ("--eager",) if mode == "eager" else ()
    proc, res = harness(tmp_path, "custom_loop.py", *args, options=("--max-steps", "3"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert res["status"] == "ok" and res["exit_code"] == 0
    assert "final loss" not in proc.stdout  # the script stopped after step 3
    (loop,) = res["captures"]
    assert loop["iterations"] == 3 and loop["truncated"] is True
    assert res["stopped_by_max_steps"]
    if mode == "eager":
        assert len(loop["step_digests"]) == 3


def test_max_steps_stops_a_train_on_batch_loop(tf_available: None, tmp_path: Path) -> None:
    proc, res = harness(tmp_path, "train_on_batch.py", options=("--max-steps", "3"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    (tob,) = res["captures"]
    assert len(tob["batches"]) == 3 and tob["truncated"] is True and tob["iterations"] == 3


def test_max_steps_custom_loop_verdict_names_the_stop(tf_available: None, tmp_path: Path) -> None:
    result = verify(tmp_path, "custom_loop.py", "--max-steps", "2", "--", "--eager")
    assert result.code == 0, result
    assert "--max-steps 2 ended the script after 2 steps of optimizer" in result.out
    assert all(r["captures"][0]["iterations"] == 2 for r in main_runs(result.report))


def test_training_in_a_subprocess_is_inconclusive_and_says_why(tmp_path: Path) -> None:
    result = verify(tmp_path, "trains_in_subprocess.py")
    assert result.code == 3, result
    assert "VERDICT: INCONCLUSIVE" in result.out
    assert "verify does not follow subprocesses" in result.out
    assert "trains_nothing.py" in result.report["summary"]
    assert "never called" not in result.out


def test_plain_script_without_training_keeps_the_plain_message(tmp_path: Path) -> None:
    result = verify(tmp_path, "trains_nothing.py")
    assert result.code == 3, result
    assert "subprocess" not in result.report["summary"]
    assert "tf_keras" in result.report["summary"]


# ---------------------------------------------------------------------------
# 3. --html
# ---------------------------------------------------------------------------

BROWSERS = ("chromium-headless-shell", "chromium", "chromium-browser", "google-chrome", "headless_shell")


@pytest.fixture(scope="module")
def late_divergence(tf_available: None, tmp_path_factory: pytest.TempPathFactory) -> tuple[Verified, Path]:
    """A run that agrees for epoch 0 and splits at epoch 1, with --html."""
    tmp = tmp_path_factory.mktemp("html")
    page = tmp / "out" / "report.html"
    return verify(tmp, "late_divergence.py", "--html", str(page)), page


def test_html_report_is_self_contained_and_complete(late_divergence: tuple[Verified, Path]) -> None:
    result, page = late_divergence
    assert result.code == 1, result
    assert result.report["first_difference"]["epoch"] == 1 and result.report["first_difference"]["batch"] == 0
    text = page.read_text(encoding="utf-8")
    lowered = text.lower()
    # No network, no JavaScript: the only URL is the SVG namespace name.
    assert "<script" not in lowered and "<link" not in lowered and "@import" not in lowered
    assert [u for u in ("http://", "https://", "//cdn") if u in lowered.replace('xmlns="http://www.w3.org/2000/svg"', "")] == []
    # one curve per run: the two main runs and each diagnostic re-run (hash-order, trace)
    runs = result.report["runs"]
    assert sum(1 for r in runs if r["main"]) == 2 and len(runs) >= 3
    assert text.count("<polyline") == len(runs)
    assert "first divergence: epoch 1, batch 0 (loss)" in text
    assert "NOT REPRODUCIBLE" in text and "sequential/dense/kernel" in text and "max |diff|" in text
    assert "TensorFlow 2." in text  # the environment


def _find_browser() -> str | None:
    import shutil

    return next((path for path in map(shutil.which, BROWSERS) if path), None)


def _png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Decode an 8-bit RGB/RGBA non-interlaced PNG (what Chromium writes): rows of RGB(A) bytes."""
    import struct
    import zlib

    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, chunk = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = chunk
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour, interlace)
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up = previous[i]
            corner = previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 255
        rows.append(bytes(line if bpp == 3 else bytes(b for j, b in enumerate(line) if j % 4 != 3)))
        previous = line
    return width, height, rows


def _count_colour(rows: list[bytes], hex_colour: str, tolerance: int = 40) -> int:
    target = bytes.fromhex(hex_colour.lstrip("#"))
    count = 0
    for row in rows:
        for x in range(0, len(row), 3):
            if all(abs(row[x + k] - target[k]) <= tolerance for k in range(3)):
                count += 1
    return count


def test_html_report_renders_in_a_headless_browser(late_divergence: tuple[Verified, Path], tmp_path: Path) -> None:
    browser = _find_browser()
    if browser is None:
        message = ("no headless browser found (tried " + ", ".join(BROWSERS) + "); on Debian/Ubuntu: "
                   "apt-get install chromium-headless-shell")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from tf_repro_migrate.verify import html

    _, page = late_divergence
    shot = tmp_path / "report.png"
    proc = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
         f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1000,1500",
         f"--screenshot={shot}", page.resolve().as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0 and shot.exists(), proc.stderr[-2000:]
    keep = os.environ.get("TF_REPRO_VERIFY_SCREENSHOT")  # to look at it: a path to copy it to
    if keep:
        Path(keep).write_bytes(shot.read_bytes())
    width, height, rows = _png_pixels(shot.read_bytes())
    assert (width, height) == (1000, 1500)
    # The chart was drawn: both main runs' curves and the divergence marker
    # have their colours on screen (the text alone has none of them).
    assert _count_colour(rows, html.PALETTE[0]) > 300, "run 1's curve is not on the page"
    assert _count_colour(rows, html.PALETTE[1]) > 150, "run 2's curve is not on the page"
    assert _count_colour(rows, html.DIVERGENCE_COLOUR) > 150, "the divergence marker is not on the page"


# ---------------------------------------------------------------------------
# 4. --baseline
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def saved_baseline(tf_available: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A --json report of a reproducible run, saved as a baseline."""
    tmp = tmp_path_factory.mktemp("baseline")
    result = verify(tmp, "late_divergence.py", "--", "--seeded-shuffle")
    assert result.code == 0, result
    saved = tmp / "baseline.json"
    saved.write_text(json.dumps(result.report))
    return saved


def test_baseline_of_the_same_training_is_within_tolerance(saved_baseline: Path, tmp_path: Path) -> None:
    result = verify(tmp_path, "late_divergence.py", "--baseline", str(saved_baseline), "--", "--seeded-shuffle")
    assert result.code == 0, result
    base = result.report["baseline"]
    assert base["within_tolerance"] is True and base["rtol"] == 1e-3 and base["atol"] == 1e-5
    (cap,) = base["captures"]
    assert cap["batches_compared"] == 24 and cap["max_abs_delta"] == 0.0
    assert cap["variables"]["bitwise_identical"] == 6
    assert "Baseline: within the tolerance" in result.out
    assert "bitwise identity with a baseline from another environment or code version is not expected" in result.out


def test_baseline_reports_loss_curve_deltas_of_a_changed_training(saved_baseline: Path, tmp_path: Path) -> None:
    # The "migration" changed the learning rate by 2%: both runs still agree
    # with each other, the baseline comparison says where the curves part.
    result = verify(tmp_path, "late_divergence.py", "--baseline", str(saved_baseline),
                    "--", "--seeded-shuffle", "--lr", "0.051")
    assert result.code == 4, result
    assert result.report["verdict"] == "REPRODUCIBLE"
    (cap,) = result.report["baseline"]["captures"]
    assert cap["deltas"][0] == 0.0  # the first batch is computed before any update
    assert cap["first_outside_tolerance"]["epoch"] == 0 and cap["first_outside_tolerance"]["batch"] == 1
    assert 0 < cap["max_abs_delta"] < 1
    assert "Baseline: OUTSIDE the tolerance (rtol=0.001, atol=1e-05)" in result.out
    assert "outside the tolerance from epoch 0, batch 1" in result.out
    # A looser tolerance accepts the same change.
    loose = verify(tmp_path, "late_divergence.py", "--baseline", str(saved_baseline), "--rtol", "0.5",
                   "--atol", "0.05", "--", "--seeded-shuffle", "--lr", "0.051")
    assert loose.code == 0, loose
    assert loose.report["baseline"]["captures"][0]["first_outside_tolerance"] is None


def test_unusable_baseline_is_a_one_line_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "notes.json"
    bad.write_text('{"hello": 1}')
    for options in (["--baseline", str(bad)], ["--baseline", str(tmp_path / "missing.json")], ["--rtol", "0.1"]):
        result = verify(tmp_path, "trains_nothing.py", *options)
        assert result.code == 2, result
        lines = result.err.strip().splitlines()
        assert len(lines) == 1 and "error:" in lines[0], result
        assert result.report == {}  # nothing ran
    assert "not a report written by" in verify(tmp_path, "trains_nothing.py", "--baseline", str(bad)).err


# ---------------------------------------------------------------------------
# 5. --launcher
# ---------------------------------------------------------------------------


def _wrapper(tmp: Path, pin_from_run: int | None) -> tuple[Path, Path]:
    """A launcher script that logs each command it runs, then executes it;
    from run ``pin_from_run`` on it pins the run to one CPU (other hardware)."""
    log = tmp / "launcher.log"
    script = tmp / "launch.sh"
    pin = "" if pin_from_run is None else f'[ "$n" -ge {pin_from_run} ] && set -- taskset -c 0 "$@"\n'
    script.write_text(
        "#!/bin/sh\n"
        f'n=$(( $(wc -l < "{log}" 2>/dev/null || echo 0) + 1 ))\n'
        f'echo "run $n: $*" >> "{log}"\n'
        f"{pin}"
        'exec "$@"\n'
    )
    script.chmod(0o755)
    return script, log


def test_launcher_prefixes_every_run(tf_available: None, tmp_path: Path) -> None:
    script, log = _wrapper(tmp_path, None)
    # Two words, as `srun -N1` or `docker exec NAME` would be.
    result = verify(tmp_path, "train_on_batch.py", "--launcher", f"sh {script}")
    assert result.code == 0, result
    lines = log.read_text().splitlines()
    assert len(lines) == 2 and all(runner.HARNESS_MODULE in line for line in lines), lines
    assert lines[0].startswith("run 1: ") and "train_on_batch.py" in lines[0]
    assert result.report["options"]["launcher"] == f"sh {script}"
    assert result.report["hardware_differences"] == []


def test_launcher_runs_on_different_hardware_are_flagged(tf_available: None, tmp_path: Path) -> None:
    if not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs 2 usable CPUs to place one run on 1 CPU")
    import shutil

    if shutil.which("taskset") is None:
        pytest.skip("taskset (util-linux) not installed")
    script, log = _wrapper(tmp_path, 2)
    result = verify(tmp_path, "train_on_batch.py", "--launcher", str(script))
    assert result.code in (0, 1), result
    assert len(log.read_text().splitlines()) >= 2
    (diff,) = result.report["hardware_differences"][:1]
    assert diff.startswith("run 2 ran on different hardware than run 1") and "cpus_usable 1" in diff, diff
    assert "did not all execute on the same hardware" in result.out


def test_launcher_that_cannot_be_split_is_a_usage_error(tmp_path: Path) -> None:
    result = verify(tmp_path, "trains_nothing.py", "--launcher", "srun 'unclosed")
    assert result.code == 2 and "--launcher" in result.err, result


# ---------------------------------------------------------------------------
# 6. --compare-outputs, --compare-files
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def noisy_outputs(tf_available: None, tmp_path_factory: pytest.TempPathFactory) -> Verified:
    """Seeded training, unseeded noise in predict()'s input, predictions saved."""
    tmp = tmp_path_factory.mktemp("outputs")
    return verify(tmp, "train_on_batch.py", "--compare-outputs", "--compare-files", "preds*.npy",
                  "--", "--noisy-outputs", "--write", "preds.npy")


def test_compare_outputs_finds_differing_predictions(noisy_outputs: Verified) -> None:
    result = noisy_outputs
    assert result.code == 1, result
    assert result.report["verdict"] == "NOT REPRODUCIBLE"
    assert all(p["identical"] for p in result.report["comparisons"])  # training itself agreed
    comparison = result.report["outputs_comparison"]
    assert comparison["n_outputs"] == 2 and comparison["n_files"] == 1 and comparison["files"] == ["preds.npy"]
    assert any("predict() call 1 on 'sequential': output 64x1 differs (max |diff|" in d for d in comparison["differences"])
    assert not any("evaluate()" in d for d in comparison["differences"])  # evaluate ran on the clean inputs
    assert any("file preds.npy differs" in d for d in comparison["differences"])
    assert "training was bitwise identical, but what it left behind differs" in result.out


def test_compare_outputs_agree_when_everything_is_seeded(tf_available: None, tmp_path: Path) -> None:
    result = verify(tmp_path, "train_on_batch.py", "--compare-outputs", "--compare-files", "*.npy",
                    "--", "--write", "preds.npy")
    assert result.code == 0, result
    comparison = result.report["outputs_comparison"]
    assert comparison["identical"] and comparison["n_outputs"] == 2 and comparison["n_files"] == 1
    assert "2 evaluate()/predict() results and 1 file matching *.npy: identical in every run" in result.out
    assert (tmp_path / "preds.npy").exists() is False and not (SCRIPTS / "preds.npy").exists()


def test_without_the_option_outputs_are_not_compared(tf_available: None, tmp_path: Path) -> None:
    proc, res = harness(tmp_path, "train_on_batch.py", "--noisy-outputs")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert res["outputs"] == []
    proc, res = harness(tmp_path, "train_on_batch.py", options=("--capture-outputs",))
    assert [o["kind"] for o in res["outputs"]] == ["evaluate", "predict"]
    assert res["outputs"][1]["digest"]["shape"] == [64, 1]
