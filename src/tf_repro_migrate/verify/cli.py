"""``tf-repro-migrate verify``: run a training script several times and compare.

Entry point: :func:`main`.  This module (and everything it imports) must not
import TensorFlow or Keras: only the child processes do.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tf_repro_migrate.verify import baseline, compare, coverage, html, outputs, report, runner

PROG = "tf-repro-migrate verify"
# The --control run adds this to every global seed the script sets.
CONTROL_SEED_OFFSET = 1
# Runs without --runs and without a hazard (see compare.HAZARD_IDS).
DEFAULT_RUNS = 2
# When the traced re-runs all agree although the main runs differed, at most
# this many more traced re-runs look for a pair that differs.
EXTRA_TRACED_RUNS = 2


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for ``SCRIPT [options]`` (script args come after ``--``)."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        usage=f"{PROG} SCRIPT [options] [-- ARGS...]",
        description=(
            "Run a training script several times in fresh Python processes with real "
            "TensorFlow/Keras, capture what training produced (per-batch losses and "
            "metrics, variable digests) and report whether the runs are bitwise identical."
        ),
        epilog=(
            "Exit codes: 0 REPRODUCIBLE, 1 NOT REPRODUCIBLE, 2 SCRIPT FAILED or bad usage, "
            "3 INCONCLUSIVE (nothing was trained), 4 REPRODUCIBLE but outside the --baseline tolerance."
        ),
    )
    parser.add_argument("script", help="the training script, run unmodified as __main__")
    parser.add_argument("--runs", type=int, default=None, metavar="N",
                        help=f"number of runs to compare (>= 2; default {DEFAULT_RUNS}, or "
                             f"{compare.ESCALATED_RUNS} when a hazard is found; N always wins)")
    parser.add_argument("--max-steps", type=int, default=None, metavar="N",
                        help="stop every fit() after N batches (an exact prefix of the full run)")
    parser.add_argument("--timeout", type=float, default=None, metavar="SECONDS", help="time limit per run")
    parser.add_argument("--json", default=None, metavar="FILE", help="write the full report as JSON")
    parser.add_argument("--keep-logs", default=None, metavar="DIR",
                        help="keep each run's log and captured results in DIR")
    parser.add_argument("--workdir", default=None, metavar="DIR",
                        help="the directory each run's scratch working directory mirrors "
                             "(default: the current directory)")
    parser.add_argument("--control", action="store_true",
                        help=f"one extra run with every global seed shifted by +{CONTROL_SEED_OFFSET}, "
                             "to check that the verdict depends on the seed at all")
    parser.add_argument("--baseline", default=None, metavar="REPORT.json",
                        help="compare with a --json report saved in another environment or before a "
                             "change, within --rtol/--atol (bitwise identity is not expected there)")
    parser.add_argument("--rtol", type=float, default=None, metavar="X",
                        help=f"relative tolerance for --baseline (default {baseline.DEFAULT_RTOL:g})")
    parser.add_argument("--atol", type=float, default=None, metavar="X",
                        help=f"absolute tolerance for --baseline (default {baseline.DEFAULT_ATOL:g})")
    parser.add_argument("--launcher", default=None, metavar="CMD",
                        help="prefix each run's command with CMD (e.g. 'srun -N1 --gres=gpu:1'); the "
                             "run must see this machine's files (interpreter, script, result file)")
    parser.add_argument("--compare-outputs", action="store_true",
                        help="also compare evaluate()/predict() results (outside fit) between runs")
    parser.add_argument("--compare-files", action="append", default=None, metavar="GLOB",
                        help="also compare the files matching GLOB (relative to the working directory) "
                             "that each run leaves in its own working directory; repeatable")
    parser.add_argument("--html", default=None, metavar="FILE",
                        help="also write a self-contained HTML report (loss of every run per batch, "
                             "first divergence, variable differences, environment)")
    return parser


def _split_script_args(argv: list[str]) -> tuple[list[str], list[str]]:
    if "--" in argv:
        i = argv.index("--")
        return argv[:i], argv[i + 1:]
    return argv, []


def _error(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 2


# Options naming files or directories verify writes: (option, argparse dest, kind).
# Checked before the first run, so a typo costs no training time; an option
# not (yet) defined by the parser is skipped.
OUTPUT_PATH_OPTIONS = (
    ("--json", "json", "file"),
    ("--keep-logs", "keep_logs", "dir"),
    ("--html", "html", "file"),
)


def _nearest_existing(path: Path) -> Path:
    current = path
    while not os.path.lexists(current) and current.parent != current:
        current = current.parent
    return current


def _writable_dir(path: Path) -> bool:
    if not os.access(path, os.W_OK | os.X_OK):
        return False
    try:  # root passes os.access even on a read-only mount
        return not os.statvfs(path).f_flag & os.ST_RDONLY
    except (OSError, AttributeError):
        return True


def check_output_path(option: str, value: str, kind: str) -> str | None:
    """Why verify could not write ``value`` (a ``kind`` of "file" or "dir"), or None."""
    path = Path(value).absolute()
    if os.path.lexists(path):
        if kind == "file" and path.is_dir():
            return f"{option} {value}: is a directory"
        if kind == "dir" and not path.is_dir():
            return f"{option} {value}: exists and is not a directory"
        writable = _writable_dir(path) if kind == "dir" else os.access(path, os.W_OK) and _writable_dir(path.parent)
        return None if writable else f"{option} {value}: not writable"
    ancestor = _nearest_existing(path.parent)
    if not ancestor.is_dir():
        return f"{option} {value}: {ancestor} is not a directory"
    if not _writable_dir(ancestor):
        return f"{option} {value}: directory {ancestor} is not writable"
    return None


def check_output_paths(values: Mapping[str, str | None]) -> str | None:
    """The first problem among output paths given as ``{option: value}``, or None."""
    kinds = {option: kind for option, _dest, kind in OUTPUT_PATH_OPTIONS}
    for option, value in values.items():
        if value:
            problem = check_output_path(option, value, kinds.get(option, "file"))
            if problem:
                return problem
    return None


def _output_paths(ns: argparse.Namespace) -> dict[str, str | None]:
    return {option: getattr(ns, dest, None) for option, dest, _kind in OUTPUT_PATH_OPTIONS}


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived: unwind like Ctrl-C (runs ended, temp dirs removed)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _handle_termination() -> Callable[[], None]:
    """Turn SIGTERM/SIGHUP into :class:`Terminated`; returns the undo function.

    A second signal during the cleanup is ignored, so the cleanup (ending the
    run's process group, removing the temporary directories) is not cut short.
    """
    signals = [s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s is not None]
    previous: dict[int, Any] = {}

    def handler(signum: int, _frame: Any) -> None:
        for sig in signals:
            signal.signal(sig, signal.SIG_IGN)
        raise Terminated(signum)

    try:
        for sig in signals:
            previous[sig] = signal.signal(sig, handler)
    except ValueError:  # not the main thread (verify called from a library): leave signals alone
        pass

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore


def main(argv: list[str]) -> int:
    """Parse ``SCRIPT [options] [-- ARGS...]``, verify, print the report; return the exit code."""
    restore = _handle_termination()
    try:
        return _main(argv)
    except Terminated as exc:
        sys.stderr.write(f"{PROG}: stopped by signal {exc.signum}; runs ended, temporary files removed\n")
        return 128 + exc.signum
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG}: interrupted; runs ended, temporary files removed\n")
        return 130
    finally:
        restore()


def _main(argv: list[str]) -> int:
    own, script_args = _split_script_args(list(argv))
    parser = build_parser()
    try:
        ns = parser.parse_args(own)
    except SystemExit as exc:  # --help (0) or a usage error (2)
        return int(exc.code or 0)
    script = Path(ns.script)
    if not script.is_file():
        return _error(f"script not found: {ns.script}")
    if ns.runs is not None and ns.runs < 2:
        return _error(f"--runs must be at least 2 (got {ns.runs})")
    if ns.max_steps is not None and ns.max_steps < 1:
        return _error(f"--max-steps must be at least 1 (got {ns.max_steps})")
    if ns.timeout is not None and ns.timeout <= 0:
        return _error(f"--timeout must be positive (got {ns.timeout})")
    workdir = Path(ns.workdir) if ns.workdir else Path.cwd()
    problem = runner.check_workdir(workdir) or check_output_paths(_output_paths(ns))
    if problem:
        return _error(problem)
    if (ns.rtol is not None or ns.atol is not None) and not ns.baseline:
        return _error("--rtol/--atol apply to --baseline only")
    if any(t is not None and not t >= 0 for t in (ns.rtol, ns.atol)):
        return _error("--rtol and --atol must be >= 0")
    base = None
    if ns.baseline:
        try:
            base = baseline.load(ns.baseline)
        except baseline.BaselineError as exc:
            return _error(str(exc))
    verifier = Verifier(
        script=script,
        script_args=script_args,
        runs=ns.runs if ns.runs is not None else DEFAULT_RUNS,
        runs_explicit=ns.runs is not None,
        max_steps=ns.max_steps,
        timeout=ns.timeout,
        control=ns.control,
        keep_logs=Path(ns.keep_logs) if ns.keep_logs else None,
        workdir=workdir,
    )
    if ns.compare_outputs:
        verifier.harness_args = ["--capture-outputs"]
    if ns.compare_files:
        if any(os.path.isabs(g) or ".." in Path(g).parts for g in ns.compare_files):
            return _error("--compare-files patterns are relative to the working directory (no '/' start, no '..')")
        verifier.compare_files = list(ns.compare_files)
    if ns.launcher is not None:
        try:
            verifier.launcher = shlex.split(ns.launcher)
        except ValueError as exc:
            return _error(f"--launcher: {exc}")
        if not verifier.launcher:
            return _error("--launcher is empty")
    result = verifier.verify()
    if base is not None and result.get("reference_captures"):
        rtol = baseline.DEFAULT_RTOL if ns.rtol is None else ns.rtol
        atol = baseline.DEFAULT_ATOL if ns.atol is None else ns.atol
        result["baseline"] = baseline.compare(result["reference_captures"], result.get("environment"),
                                              base, ns.baseline, rtol, atol)
        if result["verdict"] == "REPRODUCIBLE" and not result["baseline"]["within_tolerance"]:
            result["exit_code"] = baseline.EXIT_BASELINE_DIFFERS
    sys.stdout.write(report.render_text(result))
    if result.get("outputs_comparison"):
        sys.stdout.write(outputs.render_text(result["outputs_comparison"]))
    if result.get("baseline"):
        sys.stdout.write(baseline.render_text(result["baseline"]))
    sys.stdout.flush()
    if ns.json:
        report.write_json(result, ns.json)
    if ns.html:
        html.write_html(result, ns.html)
    return int(result["exit_code"])


class Verifier:
    """Runs the script N (+ diagnostic) times and assembles the report dict."""

    def __init__(self, script: Path, script_args: list[str], runs: int, max_steps: int | None,
                 timeout: float | None, control: bool, keep_logs: Path | None,
                 workdir: Path | None = None, runs_explicit: bool = True) -> None:
        self.script = script
        self.script_args = script_args
        self.runs = runs
        # Without --runs, a hazard raises the number of runs (escalation).
        self.runs_explicit = runs_explicit
        self.max_steps = max_steps
        self.timeout = timeout
        self.control = control
        self.keep_logs = keep_logs
        self.original_cwd = workdir if workdir is not None else Path.cwd()
        self.mirror_noted = False
        user_hash = os.environ.get("PYTHONHASHSEED")
        # An explicit user setting is part of the environment being verified;
        # otherwise every run gets a different, explicit value so that hash
        # order dependence shows up.
        self.hash_pinned_by_user = user_hash not in (None, "", "random")
        most = max(runs, compare.ESCALATED_RUNS)
        self.hash_seeds = [str(user_hash)] * most if self.hash_pinned_by_user else [str(i + 1) for i in range(most)]
        self.progress = runner.tty_progress(sys.stderr) if sys.stderr.isatty() else None
        self.outcomes: list[runner.RunOutcome] = []
        # Options set after construction by main() (kept out of __init__'s
        # signature so other callers need not change).
        self.launcher: list[str] = []
        self.harness_args: list[str] = []
        self.compare_files: list[str] = []

    # -- running ---------------------------------------------------------

    def _run(self, root: Path, label: str, hash_seed: str, seed_offset: int = 0,
             display: str | None = None, harness_args: list[str] | None = None) -> runner.RunOutcome:
        log_dir = self.keep_logs or (root / "logs")
        spec = runner.RunSpec(
            label=label, script=self.script, args=self.script_args, hash_seed=hash_seed,
            workdir_root=root, log_path=log_dir / f"{label.replace(' ', '-')}.log",
            seed_offset=seed_offset, max_steps=self.max_steps, timeout=self.timeout,
            launcher=self.launcher, harness_args=[*self.harness_args, *(harness_args or [])],
            compare_files=self.compare_files,
        )
        display = display or label
        progress = self.progress
        show = None
        if progress is not None:
            def show(_label: str, elapsed: float) -> None:
                progress(display, elapsed)
            show(label, 0.0)
        outcome = runner.execute(spec, self.original_cwd, show)
        self.mirror_noted = self.mirror_noted or _mirror_note(outcome, self.original_cwd)
        _warn_changed_originals(outcome, display)
        if self.progress:
            state = "timed out" if outcome.timed_out else f"exit {outcome.exit_code}"
            sys.stderr.write(f"\r\033[K[verify] {display}: {state} after {outcome.duration_s:.1f}s\n")
            sys.stderr.flush()
        if self.keep_logs and outcome.result is not None:
            report.write_json(outcome.result, self.keep_logs / f"{label.replace(' ', '-')}.result.json")
        return outcome

    def verify(self) -> dict[str, Any]:
        """Run everything and return the JSON-friendly report."""
        root = Path(tempfile.mkdtemp(prefix="tf-repro-verify-"))
        try:
            return self._verify(root)
        finally:
            shutil.rmtree(root, ignore_errors=True)

    def _main_runs(self, root: Path, static: list[compare.Hint]) -> tuple[list[runner.RunOutcome], dict[str, Any]]:
        """Run the script ``self.runs`` times, or ESCALATED_RUNS when run 1
        shows a hazard (and --runs was not given); escalated runs stop at the
        first run that differs from run 1."""
        main_runs: list[runner.RunOutcome] = []
        target = self.runs
        escalation: dict[str, Any] = {"escalated": False, "default_runs": self.runs, "runs": self.runs,
                                      "hazards": [], "stopped_early": False}
        i = 0
        while i < target:
            outcome = self._run(root, f"run {i + 1}", self.hash_seeds[i],
                                display=f"run {i + 1}/{target} (PYTHONHASHSEED={self.hash_seeds[i]})")
            main_runs.append(outcome)
            if outcome.failed:
                break  # the verdict is SCRIPT FAILED whatever the other runs do
            if i == 0:
                haz = compare.hazards(self._hints(static, main_runs), _op_determinism(outcome))
                escalation["hazards"] = [h.id for h in haz]
                # Nothing trained: more runs cannot make the verdict meaningful.
                if (haz and not self.runs_explicit and target < compare.ESCALATED_RUNS
                        and compare.trained_count(outcome.result)):
                    target = compare.ESCALATED_RUNS
                    escalation.update(escalated=True, runs=target)
            elif escalation["escalated"] and not compare.compare_runs(
                    "a", main_runs[0].result or {}, "b", outcome.result or {}).identical:
                escalation["stopped_early"] = True  # a difference settles the verdict
                break
            i += 1
        escalation["runs_done"] = len(main_runs)
        return main_runs, escalation

    def _hints(self, static: list[compare.Hint], main_runs: list[runner.RunOutcome]) -> list[compare.Hint]:
        ref = main_runs[0].result or {}
        dynamic = compare.run_hints(ref)
        dynamic += compare.cross_run_hints([(o.label, o.result) for o in main_runs if o.result])
        tf_info = (ref.get("environment") or {}).get("tensorflow") or {}
        return compare.merge_hints(static, dynamic, tf_info.get("op_determinism") is not None)

    def _verify(self, root: Path) -> dict[str, Any]:
        source = _read_text(self.script)
        static = compare.scan_script(source) + compare.scan_local_modules(str(self.script), source)
        main_runs, escalation = self._main_runs(root, static)
        rep = self._base_report(main_runs)
        rep["escalation"] = escalation
        hints = self._hints(static, main_runs) if main_runs[0].result else static
        rep["hints"] = [vars(h) for h in hints]
        rep["hazards"] = [vars(h) for h in compare.hazards(hints, _op_determinism(main_runs[0]))]
        failed = next((o for o in main_runs if o.failed), None)
        if failed is not None:
            return self._finish(rep, main_runs, "SCRIPT FAILED", self._failure(failed, rep),
                                f"{failed.label} failed; nothing was compared.")
        if all(compare.capture_count(o.result) == 0 for o in main_runs):
            self._no_control(rep)
            return self._finish(rep, main_runs, "INCONCLUSIVE", None,
                                coverage.nothing_captured_message(main_runs[0].result))
        if all(compare.trained_count(o.result) == 0 for o in main_runs):
            n = compare.capture_count(main_runs[0].result)
            self._no_control(rep)
            return self._finish(rep, main_runs, "INCONCLUSIVE", None,
                                f"nothing was trained: {n} captured training{'s' if n != 1 else ''} ran "
                                "0 batches and 0 optimizer steps (e.g. fit(epochs=0) or an empty "
                                "dataset), so agreeing runs prove nothing (this is not a sign of "
                                "reproducibility).")
        ref = main_runs[0]
        pairs = [compare.compare_runs(ref.label, ref.result or {}, o.label, o.result or {}) for o in main_runs[1:]]
        rep["comparisons"] = [p.to_json() for p in pairs]
        reproducible = all(p.identical for p in pairs)
        first = _first_difference(pairs)
        rep["first_difference"] = first
        left_behind = None
        if self.harness_args or self.compare_files:
            left_behind = outputs.compare_runs(
                [(o.label, o.result, o.extra.get("files")) for o in main_runs],
                bool(self.harness_args), bool(self.compare_files))
        rep["outputs_comparison"] = left_behind
        if reproducible and left_behind is not None and not left_behind["identical"]:
            return self._finish(rep, main_runs, "NOT REPRODUCIBLE", None, outputs.summary(left_behind))
        if not reproducible:
            other = next(o for o, p in zip(main_runs[1:], pairs) if not p.identical)
            rep["hash_seed_diagnosis"], traced = self._hash_seed_check(root, main_runs, other)
            rep["divergence"] = self._localize(root, ref, other, traced)
            summary = _difference_summary(first, pairs)
            self._no_control(rep)
            return self._finish(rep, main_runs, "NOT REPRODUCIBLE", None, summary)
        if self.control:
            rep["control"] = self._control(root, ref)
        n = sum(compare.capture_count(o.result) for o in main_runs[:1])
        untrained = n - compare.trained_count(ref.result)
        scope = (f" for the first {self.max_steps} batch{'es' if self.max_steps != 1 else ''} of each "
                 f"fit() only (--max-steps {self.max_steps})") if self.max_steps else ""
        rep["agreement"] = {"runs": len(main_runs), "escape_probability": compare.escape_probability(len(main_runs)),
                            "message": compare.agreement_text(len(main_runs))}
        return self._finish(rep, main_runs, "REPRODUCIBLE", None,
                            f"all {len(main_runs)} runs produced bitwise identical losses, metrics and "
                            f"variables in {n} captured training{'s' if n != 1 else ''}{scope}."
                            + (f" ({untrained} of them trained nothing and prove nothing.)" if untrained else ""))

    def _no_control(self, rep: dict[str, Any]) -> None:
        if self.control:
            rep["control"] = {"performed": False, "differs": None,
                              "message": "not run: the verdict is not REPRODUCIBLE, so there is no "
                                         "agreement for a control run to make meaningful."}

    # -- diagnostics -------------------------------------------------------

    def _hash_seed_check(self, root: Path, main_runs: list[runner.RunOutcome],
                         other: runner.RunOutcome) -> tuple[dict[str, Any], list[runner.RunOutcome]]:
        """Re-run runs with their own PYTHONHASHSEED (traced, for localization).

        Hash order is blamed only when every re-run reproduces its own run
        exactly, twice over (two rounds), while runs with different values
        differ; a thread race passes that by chance with probability at most
        0.5 ** (number of re-runs).
        """
        ref = main_runs[0]
        chosen = [ref, other] + [o for o in main_runs[1:] if o is not other][:1]
        if self.hash_pinned_by_user:
            chosen = [ref, other]
        traced: list[runner.RunOutcome] = []
        for outcome in chosen:
            traced.append(self._run(root, f"traced {outcome.label.split()[-1]}", outcome.hash_seed,
                                    harness_args=["--trace"],
                                    display=f"re-run of {outcome.label} with PYTHONHASHSEED="
                                            f"{outcome.hash_seed} and extra capture"))
        self.outcomes += traced
        if self.hash_pinned_by_user:
            return {"performed": False, "message": "PYTHONHASHSEED is set in your environment; "
                    "all runs already used the same value."}, traced
        rounds = [traced]
        if all(not t.failed and _same(o, t) for o, t in zip(chosen, traced)):
            # Looks like hash order: confirm with a second round before saying so.
            second = [self._run(root, f"pinned {o.label.split()[-1]}", o.hash_seed,
                                display=f"second re-run of {o.label} with PYTHONHASHSEED={o.hash_seed}")
                      for o in chosen]
            self.outcomes += second
            rounds.append(second)
        reruns = [r for rnd in rounds for r in rnd]
        failed = any(r.failed for r in reruns)
        reproduced = sum(1 for rnd in rounds for o, r in zip(chosen, rnd) if not r.failed and _same(o, r))
        different_pairs = [(a, b) for i, a in enumerate(chosen) for b in chosen[i + 1:] if a.hash_seed != b.hash_seed]
        differing = sum(1 for a, b in different_pairs if not _same(a, b))
        values = ", ".join(o.hash_seed for o in chosen)
        total = len(main_runs) + len(reruns)
        dependent = (not failed and reproduced == len(reruns) and len(rounds) > 1
                     and differing == len(different_pairs) > 0)
        chance = 0.5 ** len(reruns)
        if failed:
            message = "a re-run with a pinned PYTHONHASHSEED failed; no conclusion."
        elif dependent:
            message = (f"evidence of hash-order dependence: each of the {len(chosen)} runs re-run twice "
                       f"with its own PYTHONHASHSEED ({values}) reproduced itself exactly ({reproduced} of "
                       f"{len(reruns)} re-runs), while the {differing} pair{'s' if differing != 1 else ''} of runs with "
                       f"different values differed ({total} runs in all; a race that changes half of the runs would pass "
                       f"this by chance at most {chance:.1%} of the time). Export PYTHONHASHSEED (e.g. "
                       f"`export PYTHONHASHSEED={chosen[0].hash_seed}`) before running it, or remove the "
                       "dependence (hash() of strings, iteration over sets).")
        else:
            message = (f"not hash order (or not only): {len(reruns) - reproduced} of {len(reruns)} re-runs "
                       f"with their own run's PYTHONHASHSEED ({values}) differed from that run, so the "
                       f"runs differ even with the same value ({total} runs in all).")
        return {"performed": True, "values": [o.hash_seed for o in chosen], "reruns": len(reruns),
                "reproduced": reproduced, "pairs_with_different_values": len(different_pairs),
                "pairs_differing": differing, "agrees": None if failed else dependent,
                "hash_order_dependent": dependent, "chance_if_race": chance,
                "runs": [o.label for o in reruns], "message": message}, traced

    def _localize(self, root: Path, ref: runner.RunOutcome, other: runner.RunOutcome,
                  traced: list[runner.RunOutcome]) -> dict[str, Any]:
        """Name where the runs split first: initial weights, inputs, or a step
        (then a layer, from two --probe-step runs)."""
        split = compare.initial_weights_split(ref.result or {}, other.result or {})
        if split:
            return split
        ok = [t for t in traced if not t.failed and t.result]
        pair = _differing_pair(ok)
        seeds = [ref.hash_seed, other.hash_seed]
        extra = 0
        while pair is None and ok and extra < EXTRA_TRACED_RUNS:
            # A race that fires in some runs only: the traced re-runs may all
            # agree although the main runs did not; a few more, until two differ.
            extra += 1
            seed = seeds[extra % 2]
            outcome = self._run(root, f"traced extra {extra}", seed, harness_args=["--trace"],
                                display=f"extra re-run {extra} with extra capture (PYTHONHASHSEED={seed})")
            self.outcomes.append(outcome)
            if not outcome.failed and outcome.result:
                ok.append(outcome)
                pair = _differing_pair(ok)
        if pair is None:
            return {"stage": None, "message": f"the split did not recur in {len(ok)} re-runs with extra "
                    "capture (it fires in only some runs), so it could not be localized; re-run with "
                    "--runs N to see how often it occurs."}
        a, b = pair
        split = compare.localize(a.result or {}, b.result or {})
        if split is None:
            if not any(c.get("trace") for c in (a.result or {}).get("captures", [])):
                return {"stage": None, "message": "localization covers fit() only; for custom loops "
                        "the first differing optimizer step (gradients) is shown below."}
            return {"stage": None, "message": "the re-runs differ, but not in the traced batches and "
                    "weights (e.g. only after training); compare the variables listed below."}
        if split["stage"] == "step" and split.get("step") is not None and split["step"] >= 0:
            args = ["--probe-step", str(split["step"]), "--probe-capture", str(split.get("capture", 0))]
            probes = [self._run(root, f"probe {t.label.split()[-1]}", t.hash_seed, harness_args=args,
                                display=f"probe of step {split['step']} ({t.label})") for t in (a, b)]
            self.outcomes += probes
            if all(not p.failed for p in probes):
                split = compare.probe_split(probes[0].result or {}, probes[1].result or {}, split)
        split["runs"] = [a.label, b.label]
        return split

    def _control(self, root: Path, ref: runner.RunOutcome) -> dict[str, Any]:
        """One more run with every global seed shifted; not part of the verdict."""
        outcome = self._run(root, "control", ref.hash_seed, seed_offset=CONTROL_SEED_OFFSET,
                            display=f"control run (seeds +{CONTROL_SEED_OFFSET})")
        self.outcomes.append(outcome)
        seeds = [c for c in (ref.result or {}).get("seed_calls", []) if c.get("value") is not None]
        info: dict[str, Any] = {"performed": True, "seed_offset": CONTROL_SEED_OFFSET, "run": outcome.label,
                                "seeds_seen": len(seeds), "differs": None}
        if outcome.failed:
            info["message"] = f"the control run failed (exit {outcome.exit_code}); no conclusion."
            return info
        pair = compare.compare_runs(ref.label, ref.result or {}, outcome.label, outcome.result or {})
        info["differs"] = not pair.identical
        info["comparison"] = pair.to_json()
        if pair.identical:
            why = ("the script set no global seed the harness could shift" if not seeds
                   else "the seeds it sets do not influence the captured values")
            info["message"] = ("the control run equals the other runs: the result does not depend on "
                               f"the seed ({why}), so the reproducibility check may be vacuous.")
        else:
            info["message"] = ("the control run differs from the other runs, as it should: the seeds "
                               "drive the result, so the REPRODUCIBLE verdict is meaningful.")
        return info

    def _failure(self, outcome: runner.RunOutcome, rep: dict[str, Any]) -> dict[str, Any]:
        tail = runner.log_tail(outcome.log_path)
        detail = outcome.result_error if outcome.result is None and not outcome.timed_out else None
        if outcome.timed_out:
            detail = f"Time limit of {self.timeout:g}s per run (--timeout) exceeded; the run was killed."
        explanation = compare.explain_failure(outcome.result, tail, self.script.name)
        explanation = explanation or migration_hint(_error_text(outcome.result, tail), str(self.script))
        return {"run": outcome.label, "exit_code": outcome.exit_code, "timed_out": outcome.timed_out,
                "detail": detail, "explanation": explanation, "log": str(outcome.log_path)
                if self.keep_logs else f"{outcome.log_path.name} (use --keep-logs DIR to keep it)",
                "log_tail": tail, "error": (outcome.result or {}).get("error")}

    # -- report assembly -----------------------------------------------------

    def _base_report(self, main_runs: list[runner.RunOutcome]) -> dict[str, Any]:
        self.outcomes = list(main_runs)
        return {
            "tool": PROG,
            "schema": 1,
            "script": str(self.script),
            "script_name": self.script.name,
            "args": self.script_args,
            "cwd": str(self.original_cwd),
            "options": {"runs": self.runs, "runs_explicit": self.runs_explicit, "max_steps": self.max_steps,
                        "timeout": self.timeout,
                        "launcher": shlex.join(self.launcher) if self.launcher else None,
                        "compare_outputs": "--capture-outputs" in self.harness_args,
                        "compare_files": self.compare_files,
                        "control": self.control, "keep_logs": str(self.keep_logs) if self.keep_logs else None},
            "hash_seed_pinned_by_user": self.hash_pinned_by_user,
            "isolation": "each run used its own scratch working directory mirroring the original "
                         "working directory (directories recreated, regular files copied within the "
                         "mirror budget, larger files and tool directories symlinked and copied on "
                         "the script's first write through them)",
            "comparisons": [],
            "first_difference": None,
            "hash_seed_diagnosis": None,
            "control": None,
            "hints": [],
            "hazards": [],
            "escalation": None,
            "agreement": None,
            "divergence": None,
            "scope": report.scope(self.max_steps),
            "failure": None,
        }

    def _finish(self, rep: dict[str, Any], main_runs: list[runner.RunOutcome], verdict: str,
                failure: dict[str, Any] | None, summary: str) -> dict[str, Any]:
        rep["verdict"] = verdict
        rep["exit_code"] = report.VERDICT_EXIT_CODES[verdict]
        rep["summary"] = summary
        rep["failure"] = failure
        ref_result = main_runs[0].result if main_runs else None
        rep["coverage_notes"] = coverage.notes(ref_result, self.max_steps)
        rep["hardware_differences"] = coverage.hardware_differences([(o.label, o.result) for o in self.outcomes])
        hardware = coverage.hardware_note(rep["hardware_differences"])
        if hardware:
            rep["coverage_notes"].append(hardware)
        rep["subprocesses"] = (ref_result or {}).get("subprocesses") or []
        rep["runs"] = []
        for outcome in self.outcomes:
            entry = outcome.to_json()
            entry["main"] = outcome in main_runs
            result = outcome.result or {}
            entry["captures"] = report.strip_values(result.get("captures", []))
            entry["seed_calls"] = result.get("seed_calls", [])
            entry["environment"] = result.get("environment")
            if not self.keep_logs:
                entry["log"] = None  # the temporary log directory is deleted
            rep["runs"].append(entry)
        ref = main_runs[0].result if main_runs and main_runs[0].result else {}
        rep["reference_captures"] = report.strip_values(ref.get("captures", [])) if ref else []
        rep["reference_seed_calls"] = ref.get("seed_calls", []) if ref else []
        rep["environment"] = ref.get("environment") if ref else None
        rep["environment_differences"] = _environment_differences(self.outcomes)
        rep["logs_kept"] = str(self.keep_logs) if self.keep_logs else None
        return rep


def _mirror_note(outcome: runner.RunOutcome, workdir: Path) -> bool:
    """Say once on stderr that the working directory exceeded the mirror budget."""
    mirror = outcome.extra.get("mirror") or {}
    exhausted = mirror.get("exhausted") or []
    if not exhausted:
        return False
    what = {"bytes": f"{mirror.get('max_total_bytes', 0):,} bytes copied",
            "entries": f"{mirror.get('max_entries', 0):,} entries",
            "time": f"{mirror.get('seconds', 0):g} s"}
    spent = ", ".join(what.get(e, e) for e in exhausted)
    sys.stderr.write(f"[verify] note: {workdir} is larger than the mirror budget ({spent} per run, "
                     "see TF_REPRO_VERIFY_* in the README); the rest is linked, not copied. Run from "
                     "your project directory or pass --workdir DIR to mirror less.\n")
    sys.stderr.flush()
    return True


def _warn_changed_originals(outcome: runner.RunOutcome, display: str) -> None:
    """Name the user's files a run changed through a link despite the guard."""
    changed = outcome.extra.get("changed_originals") or []
    for path in changed:
        sys.stderr.write(f"[verify] warning: {display} changed your file {path} through the scratch "
                         "directory's link to it (a write from C code, which the copy-on-write guard "
                         "does not see; see 'verify: limits and safety' in the README)\n")
    sys.stderr.flush()


# TF1 / standalone-Keras names that no longer exist under TensorFlow 2 / Keras 3:
# an AttributeError naming one of them means the script was not migrated yet.
TF1_NAMES = frozenset({
    "ConfigProto", "GPUOptions", "GraphOptions", "OptimizerOptions", "RunOptions", "Session",
    "InteractiveSession", "set_random_seed", "get_default_graph", "reset_default_graph",
    "placeholder", "global_variables_initializer", "local_variables_initializer", "get_variable",
    "variable_scope", "random_normal", "random_uniform", "truncated_normal", "random_shuffle",
    "logging", "app", "flags", "contrib", "AdamOptimizer", "GradientDescentOptimizer",
    "MomentumOptimizer", "RMSPropOptimizer", "AdagradOptimizer", "Saver", "set_session",
    "get_session", "tensorflow_backend", "set_learning_phase",
})
_NO_ATTRIBUTE = re.compile(r"module '((?:tensorflow|keras|tf_keras)(?:\.[\w.]+)?)' has no attribute '(\w+)'")


def migration_hint(error_text: str, script: str) -> str | None:
    """The hint for a script failing on a TF1 name that TensorFlow 2 / Keras 3 removed."""
    for match in _NO_ATTRIBUTE.finditer(error_text):
        module, name = match.groups()
        if name in TF1_NAMES and ".compat.v1" not in module:
            return (f"`{module}.{name}` does not exist in TensorFlow 2 / Keras 3: the script looks "
                    f"unmigrated; run `tf-repro-migrate --write {script}` first, then verify it again.")
    return None


def _error_text(result: dict[str, Any] | None, log_tail: str) -> str:
    error = (result or {}).get("error") or {}
    return f"{error.get('type') or ''}: {error.get('message') or ''}\n{log_tail}"


def _first_difference(pairs: list[compare.PairDiff]) -> dict[str, Any] | None:
    for pair in pairs:
        for cap in pair.captures:
            if cap.first_batch is not None:
                fb = cap.first_batch
                return {"runs": [pair.run_a, pair.run_b], "capture": cap.index, "label": cap.label,
                        "epoch": fb.epoch, "batch": fb.batch, "metric": fb.metric, "a": fb.a, "b": fb.b,
                        "abs_diff": fb.abs_diff}
        for cap in pair.captures:
            if not cap.identical:
                return {"runs": [pair.run_a, pair.run_b], "capture": cap.index, "label": cap.label,
                        "epoch": None, "batch": None, "step": cap.first_step,
                        "variables": [v.name for v in cap.variables]}
        if pair.structural:
            return {"runs": [pair.run_a, pair.run_b], "structural": pair.structural}
    return None


def _difference_summary(first: dict[str, Any] | None, pairs: list[compare.PairDiff]) -> str:
    pair = next(p for p in pairs if not p.identical)
    closeness = pair.closeness
    if first and first.get("batch") is not None:
        return (f"{first['label']} first differs at epoch {first['epoch']}, batch {first['batch']} "
                f"({first['metric']}); runs are {closeness}.")
    if first and first.get("step") is not None:
        return f"{first['label']} first differs at optimizer step {first['step']}; runs are {closeness}."
    if first and first.get("label"):
        return f"{first['label']} differs; runs are {closeness}."
    return f"the runs captured different trainings; runs are {closeness}."


def _environment_differences(outcomes: list[runner.RunOutcome]) -> list[str]:
    """Fingerprint fields that differ between runs (PYTHONHASHSEED excepted)."""
    envs = [(o.label, (o.result or {}).get("environment")) for o in outcomes if o.result]
    if len(envs) < 2:
        return []
    notes = []
    ref_label, ref_env = envs[0]

    def flat(env: dict[str, Any] | None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in (env or {}).items():
            if isinstance(value, dict):
                for sub, v in value.items():
                    out[f"{key}.{sub}"] = v
            else:
                out[key] = value
        out.pop("env.PYTHONHASHSEED", None)
        return out

    base = flat(ref_env)
    for label, env in envs[1:]:
        other = flat(env)
        for key in sorted(set(base) | set(other)):
            if base.get(key) != other.get(key):
                notes.append(f"{label}: {key} = {other.get(key)!r} (vs {base.get(key)!r} in {ref_label})")
    return notes


def _op_determinism(outcome: runner.RunOutcome) -> bool | None:
    tf_info = ((outcome.result or {}).get("environment") or {}).get("tensorflow") or {}
    return tf_info.get("op_determinism")


def _differing_pair(outcomes: list[runner.RunOutcome]) -> tuple[runner.RunOutcome, runner.RunOutcome] | None:
    return next(((a, b) for i, a in enumerate(outcomes) for b in outcomes[i + 1:] if not _same(a, b)), None)


def _same(a: runner.RunOutcome, b: runner.RunOutcome) -> bool:
    return compare.compare_runs(a.label, a.result or {}, b.label, b.result or {}).identical


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
