"""Tests of ``tf-repro-migrate verify``.

The end-to-end tests run the real command (``python -m
tf_repro_migrate.verify.cli``) as a subprocess on the small scripts in
``tests/verify_scripts``; every run trains a tiny model with real TensorFlow on
the CPU.  Commands whose results several tests inspect run once per module.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tf_repro_migrate.verify import compare, runner
from tf_repro_migrate.verify.cli import main as verify_main

from verify_helpers import SCRIPTS, Verified, main_runs, verify, verify_env

_env = verify_env



@pytest.fixture(scope="module")
def tf_available() -> None:
    pytest.importorskip("tensorflow")
    pytest.importorskip("keras")


@pytest.fixture(scope="module")
def seeded(tf_available: None, tmp_path_factory: pytest.TempPathFactory) -> Verified:
    """The seeded Keras script, with the --control run."""
    return verify(tmp_path_factory.mktemp("seeded"), "keras_seeded.py", "--control")


@pytest.fixture(scope="module")
def unseeded(tf_available: None, tmp_path_factory: pytest.TempPathFactory) -> Verified:
    return verify(tmp_path_factory.mktemp("unseeded"), "keras_seeded.py", "--", "--unseeded")


# ---------------------------------------------------------------------------
# Usage
# ---------------------------------------------------------------------------


def test_importing_cli_does_not_import_tensorflow() -> None:
    code = ("import sys, tf_repro_migrate.verify.cli; "
            "bad = [m for m in ('tensorflow', 'keras') if m in sys.modules]; "
            "sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_missing_script_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "no_such_train.py"
    assert verify_main([str(missing)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(missing) in err[0]


def test_fewer_than_two_runs_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert verify_main([str(SCRIPTS / "trains_nothing.py"), "--runs", "1"]) == 2
    assert "--runs" in capsys.readouterr().err


# ---------------------------------------------------------------------------
# Keras fit()
# ---------------------------------------------------------------------------


def test_seeded_keras_script_is_reproducible(seeded: Verified) -> None:
    assert seeded.code == 0, seeded
    assert "VERDICT: REPRODUCIBLE" in seeded.out
    rep = seeded.report
    assert rep["verdict"] == "REPRODUCIBLE"
    runs = main_runs(rep)
    assert len(runs) == 2 and [r["hash_seed"] for r in runs] == ["1", "2"]
    first, second = (r["captures"] for r in runs)
    assert len(first) == 1 and first[0]["kind"] == "fit"
    assert len(first[0]["batches"]) == 16 and len(first[0]["epochs"]) == 2
    assert first[0]["batches"] == second[0]["batches"]
    assert [v["sha256"] for v in first[0]["variables"]] == [v["sha256"] for v in second[0]["variables"]]
    env = rep["environment"]
    assert env["tensorflow"]["op_determinism"] is True
    assert env["keras"]["version"].startswith("3.")
    assert "TensorFlow " + env["tensorflow"]["version"] in seeded.out


def test_control_run_differs_for_seeded_script(seeded: Verified) -> None:
    control = seeded.report["control"]
    assert control["differs"] is True, seeded
    assert "control run differs" in seeded.out
    # The control run is reported but not part of the verdict.
    assert [r["label"] for r in seeded.report["runs"] if not r["main"]] == ["control"]


def test_unseeded_keras_script_is_not_reproducible(unseeded: Verified) -> None:
    assert unseeded.code == 1, unseeded
    assert "VERDICT: NOT REPRODUCIBLE" in unseeded.out
    first = unseeded.report["first_difference"]
    assert (first["epoch"], first["batch"]) == (0, 0)
    assert f"first differing batch: epoch {first['epoch']}, batch {first['batch']}" in unseeded.out
    assert unseeded.report["hash_seed_diagnosis"]["hash_order_dependent"] is False
    assert "First divergence: initial weights differ" in unseeded.out
    assert "a seed is missing" in unseeded.report["divergence"]["message"]
    hint_ids = {h["id"] for h in unseeded.report["hints"]}
    assert {"no_seed", "no_op_determinism"} <= hint_ids
    assert "far apart" in unseeded.out


def test_max_steps_gives_a_prefix_of_the_full_run(seeded: Verified, tmp_path: Path) -> None:
    capped = verify(tmp_path, "keras_seeded.py", "--max-steps", "3")
    assert capped.code == 0, capped
    assert "VERDICT: REPRODUCIBLE for the first 3 batches of each fit() only (exit 0)" in capped.out
    assert capped.report["scope"]["max_steps"] == 3
    assert "first 3 batches of each fit() only" in capped.report["summary"]
    full_batches = main_runs(seeded.report)[0]["captures"][0]["batches"]
    capture = main_runs(capped.report)[0]["captures"][0]
    assert capture["truncated"] is True
    assert capture["batches"] == full_batches[:3]


def test_two_fitted_models_are_both_captured(tf_available: None, tmp_path: Path) -> None:
    result = verify(tmp_path, "two_models.py")
    assert result.code == 0, result
    captures = main_runs(result.report)[0]["captures"]
    assert [c["model_name"] for c in captures] == ["first", "second"]
    assert captures[1]["epochs"][0]["logs"].keys() >= {"loss", "mse", "val_loss"}


# ---------------------------------------------------------------------------
# Custom training loops
# ---------------------------------------------------------------------------


def test_seeded_custom_loop_is_reproducible(tf_available: None, tmp_path: Path) -> None:
    result = verify(tmp_path, "custom_loop.py")
    assert result.code == 0, result
    runs = main_runs(result.report)
    # The script ends with sys.exit(0): still a success with results.
    assert all(r["exit_code"] == 0 and r["status"] == "ok" for r in runs)
    capture = runs[0]["captures"][0]
    assert capture["kind"] == "optimizer" and capture["iterations"] == 8
    assert len(capture["variables"]) == 4


def test_unseeded_custom_loop_is_not_reproducible(tf_available: None, tmp_path: Path) -> None:
    result = verify(tmp_path, "custom_loop.py", "--", "--unseeded", "--eager")
    assert result.code == 1, result
    first = result.report["first_difference"]
    assert first["step"] == 0 and "sequential/dense/kernel" in first["variables"]
    assert "first differing optimizer step (gradients): step 0" in result.out


# ---------------------------------------------------------------------------
# Failures and nothing to compare
# ---------------------------------------------------------------------------


def test_crashing_script_fails_with_log_tail(tmp_path: Path) -> None:
    result = verify(tmp_path, "crashes.py", "--keep-logs", str(tmp_path / "logs"))
    assert result.code == 2, result
    assert "boom" in (tmp_path / "logs" / "run-1.log").read_text()
    assert "VERDICT: SCRIPT FAILED" in result.out
    assert "ValueError: boom: config key 'lr' missing" in result.out
    assert "loading configuration" in result.out
    assert "harness.py" not in result.report["failure"]["log_tail"]


def test_script_training_nothing_is_inconclusive(tmp_path: Path) -> None:
    result = verify(tmp_path, "trains_nothing.py")
    assert result.code == 3, result
    assert "VERDICT: INCONCLUSIVE" in result.out


def test_fit_that_trains_zero_batches_is_inconclusive_even_with_control(tf_available: None, tmp_path: Path) -> None:
    # fit(epochs=0) and a fit over an empty dataset: captured, but nothing trained.
    result = verify(tmp_path, "fits_nothing.py", "--control")
    assert result.code == 3, result
    assert "VERDICT: INCONCLUSIVE" in result.out
    assert "nothing was trained: 2 captured trainings ran 0 batches" in result.out
    assert result.report["control"]["performed"] is False
    assert "meaningful" not in result.out.replace("make meaningful", "")
    assert [r["label"] for r in result.report["runs"]] == ["run 1", "run 2"]


def test_timeout_is_a_script_failure(tmp_path: Path) -> None:
    result = verify(tmp_path, "sleeps.py", "--timeout", "2")
    assert result.code == 2, result
    assert result.report["failure"]["timed_out"] is True
    assert "timed out" in result.out


def test_determinism_error_is_explained_with_the_op(tf_available: None, tmp_path: Path) -> None:
    result = verify(tmp_path, "determinism_error.py")
    assert result.code == 2, result
    explanation = result.report["failure"]["explanation"]
    assert "tf.random.uniform" in explanation and "seed" in explanation
    assert "Cause: Op determinism is enabled" in result.out


# ---------------------------------------------------------------------------
# Isolation and hash order
# ---------------------------------------------------------------------------


def test_runs_are_isolated_and_relative_inputs_work(tf_available: None, tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "inputs").mkdir(parents=True)
    shutil.copy(SCRIPTS / "isolation.py", project)
    (project / "inputs" / "data.csv").write_text(
        "".join(f"{i / 16},{(i % 5) / 5},{i / 8}\n" for i in range(16))
    )
    (project / "state.txt").write_text("fresh\n")
    result = verify(tmp_path, "isolation.py", cwd=project)
    assert result.code == 0, result
    # Nothing leaked into the user's directory.
    assert not (project / "out.txt").exists()
    assert not (project / "inputs" / "written.txt").exists()
    assert (project / "state.txt").read_text() == "fresh\n"


def test_hash_order_dependence_is_diagnosed(tf_available: None, tmp_path: Path) -> None:
    result = verify(tmp_path, "hash_order.py")
    assert result.code == 1, result
    diagnosis = result.report["hash_seed_diagnosis"]
    assert diagnosis["hash_order_dependent"] is True
    # Each run's own value, pinned twice; runs with different values differ.
    assert diagnosis["values"] == ["1", "2"]
    assert (diagnosis["reruns"], diagnosis["reproduced"]) == (4, 4)
    assert diagnosis["pairs_differing"] == diagnosis["pairs_with_different_values"] == 1
    assert "evidence of hash-order dependence" in result.out and "(6 runs in all" in result.out
    assert sorted(r["label"] for r in result.report["runs"] if not r["main"]) == [
        "pinned 1", "pinned 2", "traced 1", "traced 2"]
    assert "export PYTHONHASHSEED" in result.out
    assert any(h["id"] == "hash_builtin" for h in result.report["hints"])
    # The seed comes from hash(): the split is in the initial weights.
    assert result.report["divergence"]["stage"] == "initial weights"


# ---------------------------------------------------------------------------
# Hazards and escalation; localizing the first divergence; new diagnoses
# ---------------------------------------------------------------------------


def test_hazard_escalates_runs_and_is_shown_with_the_verdict(tf_available: None, tmp_path: Path) -> None:
    result = verify(tmp_path, "hazard_quiet.py")
    assert result.code == 0, result
    assert len(main_runs(result.report)) == 5
    assert result.report["escalation"]["escalated"] is True
    assert "5 runs (raised from 2: hazards found" in result.out
    assert [h["id"] for h in result.report["hazards"]] == ["no_op_determinism"]
    assert "Hazards (sources of differences" in result.out
    assert "5 runs agreed; a source that changes the result in half of the runs escapes 5 runs 6.2%" in result.out
    # --runs wins over the escalation.
    two = verify(tmp_path, "hazard_quiet.py", "--runs", "2")
    assert two.code == 0, two
    assert len(main_runs(two.report)) == 2 and two.report["escalation"]["escalated"] is False
    assert "Hazards (sources of differences" in two.out and "escapes 2 runs 50.0%" in two.out


def test_nondeterministic_layer_output_is_localized(tf_available: None, tmp_path: Path) -> None:
    result = verify(tmp_path, "noisy_kernel.py")
    assert result.code == 1, result
    div = result.report["divergence"]
    assert (div["stage"], div["step"], div["layer"], div["what"]) == ("step", 3, "jitter", "output")
    assert "First divergence: inputs and weights equal, layer `jitter` output differs at step 3" in result.out
    assert result.report["hash_seed_diagnosis"]["hash_order_dependent"] is False
    assert sorted(r["label"] for r in result.report["runs"] if not r["main"]) == [
        "probe 1", "probe 2", "traced 1", "traced 2"]


def test_nondeterministic_gradient_is_localized(tf_available: None, tmp_path: Path) -> None:
    result = verify(tmp_path, "noisy_kernel.py", "--", "--grad")
    assert result.code == 1, result
    div = result.report["divergence"]
    assert (div["stage"], div["step"], div["layer"], div["what"]) == ("step", 3, "jitter", "gradient")
    assert "layer `jitter` gradient differs at step 3" in result.out


def test_python_random_left_unseeded_under_keras_3(tf_available: None, tmp_path: Path) -> None:
    result = verify(tmp_path, "random_unseeded.py")
    assert result.code == 1, result
    assert result.report["divergence"]["stage"] == "initial weights"
    assert any(h["id"] == "python_random_unseeded" for h in result.report["hints"])
    assert "Python's `random` module was never seeded" in result.out


def test_unseeded_generator_in_a_local_module_is_named(tf_available: None, tmp_path: Path) -> None:
    result = verify(tmp_path, "uses_local_module.py")
    assert result.code == 1, result
    div = result.report["divergence"]
    assert (div["stage"], div["step"]) == ("inputs", 0)
    assert "inputs differ from batch 0 of epoch 0" in result.out
    hint = next(h for h in result.report["hints"] if h["id"] == "unseeded_local_module")
    assert (hint["file"], hint["line"]) == ("local_noise.py", 4)
    assert "[local_noise.py:4]" in result.out


def test_reading_a_file_the_previous_run_wrote_is_diagnosed(tf_available: None, tmp_path: Path) -> None:
    ckpt = tmp_path / "elsewhere" / "model.keras"
    ckpt.parent.mkdir()
    result = verify(tmp_path, "resumes.py", "--runs", "2", "--", str(ckpt))
    assert result.code == 1, result
    hint = next(h for h in result.report["hints"] if h["id"] == "resume_from_previous_run")
    assert f"run 2 read {ckpt.resolve()}, which run 1 wrote" in hint["message"]


def test_escape_probability_formula() -> None:
    assert compare.escape_probability(2) == 0.5
    assert compare.escape_probability(5) == 2 * 0.5 ** 5
    assert "escapes 5 runs 6.2% of the time at most (2 x 0.5^5)" in compare.agreement_text(5)


def test_scan_finds_date_seeds_and_pydataset_worker_races() -> None:
    source = ("import datetime, random\nimport numpy as np\nimport keras\n"
              "SEED = datetime.date.today().toordinal()\n"
              "class D(keras.utils.PyDataset):\n"
              "    def __getitem__(self, i):\n"
              "        return np.random.uniform(size=(2, 2)), np.zeros(2)\n"
              "ds = D(workers=4)\n")
    hints = {h.id: h for h in compare.scan_script(source)}
    assert hints["date_seed"].line == 4
    assert hints["pydataset_workers_shared_rng"].line == 7
    assert "workers=1" in hints["pydataset_workers_shared_rng"].message
    assert {"date_seed", "pydataset_workers_shared_rng"} <= {h.id for h in compare.hazards(list(hints.values()))}
    # Look-alikes: a seed from a constant, one worker, a per-batch generator.
    quiet = ("import numpy as np\nSEED = 42  # not today()\nds = D(workers=1)\n"
             "rng = np.random.default_rng([SEED, 3])\n")
    ids = {h.id for h in compare.scan_script(quiet)}
    assert "date_seed" not in ids and "pydataset_workers_shared_rng" not in ids


def test_thread_race_script_hazards_are_found_by_the_scan() -> None:
    # The script the closing note's detection rates were measured on.
    hints = compare.scan_script((SCRIPTS / "thread_race.py").read_text())
    assert {"tf_data_nondeterministic", "stateful_random_in_parallel_map",
            "pydataset_workers_shared_rng"} <= {h.id for h in compare.hazards(hints)}


def test_op_determinism_defuses_tf_data_hazards() -> None:
    code = "ds = ds.map(lambda x: x + tf.random.normal([]), num_parallel_calls=4, deterministic=False)\n"
    hints = compare.scan_script(code)
    assert {"tf_data_nondeterministic", "stateful_random_in_parallel_map"} <= {h.id for h in compare.hazards(hints)}
    assert not compare.hazards(hints, op_determinism=True)


def test_local_modules_are_scanned(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "aug.py").write_text("import random\nR = random.Random()\n")
    (tmp_path / "other.py").write_text("x = 1  # default_rng() in a comment\n")
    script = tmp_path / "train.py"
    source = "import other\nfrom pkg.aug import R\nimport numpy\n"
    script.write_text(source)
    hints = compare.scan_local_modules(str(script), source)
    assert [(h.id, h.file, h.line) for h in hints] == [("unseeded_local_module", os.path.join("pkg", "aug.py"), 2)]


def test_localize_orders_weights_inputs_then_steps() -> None:
    def traced(inputs: list[str], weights: list[str], losses: list[float], init: str = "w") -> dict[str, Any]:
        return {"captures": [{
            "kind": "fit", "index": 0, "model_class": "keras.Sequential", "model_name": "m",
            "initial_weights": [{"name": "m/w", "sha256": init}],
            "batches": [{"epoch": 0, "batch": i, "logs": {"loss": float.hex(v)}} for i, v in enumerate(losses)],
            "trace": {"inputs": [[x, "y"] for x in inputs], "weights_before": weights},
        }]}
    base = traced(["a", "b", "c"], ["w0", "w1", "w2"], [1.0, 2.0, 3.0])
    assert compare.localize(base, base) is None
    assert compare.localize(base, traced(["a", "b", "c"], ["w0", "w1", "w2"], [1.0, 2.0, 3.0], init="v"))["stage"] == "initial weights"
    inputs = compare.localize(base, traced(["a", "B", "C"], ["w0", "w1", "W2"], [1.0, 2.5, 3.5]))
    assert (inputs["stage"], inputs["step"]) == ("inputs", 1)
    assert "inputs differ from batch 1" in inputs["message"]
    step = compare.localize(base, traced(["a", "b", "c"], ["w0", "w1", "W2"], [1.0, 2.5, 3.5]))
    assert (step["stage"], step["step"]) == ("step", 1)


# ---------------------------------------------------------------------------
# Units (no subprocess)
# ---------------------------------------------------------------------------


def _var(name: str, values: list[float], sha: str) -> dict[str, Any]:
    import base64
    import numpy as np

    arr = np.asarray(values, dtype=np.float32)
    return {"name": name, "dtype": "float32", "shape": [len(values)], "sha256": sha,
            "summary": {"sum": repr(float(arr.sum()))},
            "values": {"dtype": "float32", "b64": base64.b64encode(arr.tobytes()).decode()}}


def _result(loss: float, values: list[float], sha: str) -> dict[str, Any]:
    return {"captures": [{
        "kind": "fit", "index": 0, "model_class": "keras.Sequential", "model_name": "m",
        "batches": [{"epoch": 0, "batch": 0, "logs": {"loss": float.hex(1.0)}},
                    {"epoch": 0, "batch": 1, "logs": {"loss": float.hex(loss)}}],
        "epochs": [{"epoch": 0, "logs": {"loss": float.hex(loss)}}],
        "variables": [_var("m/w", values, sha)], "optimizer_variables": [],
    }]}


def test_compare_finds_first_batch_and_largest_difference() -> None:
    pytest.importorskip("numpy")
    a = _result(0.5, [1.0, 2.0], "aa")
    b = _result(0.5 + 1e-9, [1.0, 2.0000002], "bb")
    pair = compare.compare_runs("run 1", a, "run 2", b)
    assert not pair.identical
    cap = pair.captures[0]
    assert (cap.first_batch.epoch, cap.first_batch.batch, cap.first_batch.metric) == (0, 1, "loss")
    assert cap.variables[0].max_abs_diff == pytest.approx(2.384e-7, rel=1e-3)
    assert pair.closeness == "close"
    far = compare.compare_runs("run 1", a, "run 2", _result(0.7, [1.0, 3.0], "cc"))
    assert far.closeness == "far apart"
    assert compare.compare_runs("run 1", a, "run 2", _result(0.5, [1.0, 2.0], "aa")).identical


def test_unimplemented_op_name_is_parsed() -> None:
    message = ("{{function_node __wrapped__UnsortedSegmentSum_device_/job:localhost/replica:0/task:0/"
               "device:GPU:0}} Deterministic GPU implementation of unsorted segment reduction op not "
               "available. [Op:UnsortedSegmentSum]")
    assert compare.unimplemented_op_name(message) == "UnsortedSegmentSum"
    assert compare.unimplemented_op_name("... [[{{node gradients/Scatter}}]]") == "gradients/Scatter"
    result = {"error": {"type": "UnimplementedError", "message": message, "frames": []}}
    explanation = compare.explain_failure(result, "", "train.py")
    assert explanation and "UnsortedSegmentSum" in explanation


def test_script_scan_ignores_comments_and_docstrings() -> None:
    source = '"""Uses hash() and deterministic=False in prose."""\n# jit_compile=True\nx = 1\n'
    ids = {h.id for h in compare.scan_script(source)}
    assert "hash_builtin" not in ids and "tf_data_nondeterministic" not in ids and "jit_compile" not in ids
    code = "ds = ds.map(f, num_parallel_calls=4, deterministic=False)\nrng = np.random.default_rng()\n"
    hints = {h.id: h.line for h in compare.scan_script(code)}
    assert hints["tf_data_nondeterministic"] == 1 and hints["unseeded_default_rng"] == 2


def test_mirror_directory_copies_small_files_and_recreates_directories(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    (src / "data").mkdir(parents=True)
    (src / "data" / "a.csv").write_text("1,2\n")
    (src / ".git").mkdir()
    runner.mirror_directory(src, dst)
    assert (dst / "data").is_dir() and not (dst / "data").is_symlink()
    assert (dst / "data" / "a.csv").read_text() == "1,2\n" and not (dst / "data" / "a.csv").is_symlink()
    assert (dst / ".git").is_symlink()
    (dst / "data" / "a.csv").write_text("changed\n")
    assert (src / "data" / "a.csv").read_text() == "1,2\n"


def test_workdir_never_mirrors_verifys_own_temporary_directory(tmp_path: Path) -> None:
    # verify run from the temp directory: its scratch root lies inside the cwd.
    (tmp_path / "train.py").write_text("pass\n")
    root = tmp_path / "tf-repro-verify-x"
    scratch = root / "work-1"
    scratch.mkdir(parents=True)
    script = runner.prepare_workdir(scratch, tmp_path, tmp_path / "train.py")
    assert script == "train.py" and (scratch / "train.py").is_file()
    assert not (scratch / "tf-repro-verify-x").exists()


# -- end to end: migrate the bundled legacy project, then verify it ---------------------------------

def test_migrated_legacy_project_is_reproducible(tmp_path):
    """The README's story: `tf-repro-migrate --write` on the legacy project, then `verify` says REPRODUCIBLE."""
    project = tmp_path / "legacy_project"
    shutil.copytree(Path(__file__).resolve().parents[1] / "fixtures" / "legacy_project", project)
    migrate = subprocess.run([sys.executable, "-m", "tf_repro_migrate", "--write", "-q", str(project)],
                             env=_env(), capture_output=True, text=True)
    assert "4 changed" in migrate.stdout and migrate.returncode == 1, migrate.stdout + migrate.stderr
    out = tmp_path / "report.json"
    proc = subprocess.run(
        [sys.executable, "-m", "tf_repro_migrate", "verify", "train.py", "--json", str(out), "--", "--epochs", "2"],
        cwd=project, env=_env(), capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "VERDICT: REPRODUCIBLE" in proc.stdout
    report = json.loads(out.read_text())
    assert report["verdict"] == "REPRODUCIBLE"
