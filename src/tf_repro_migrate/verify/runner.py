"""Launch the user's script in fresh, isolated Python processes.

Each run gets:

* a fresh interpreter (``sys.executable -m tf_repro_migrate.verify.harness``);
* its own scratch working directory that mirrors the original working
  directory (see :func:`mirror_directory`), so files one run writes are never
  seen by another run, while relative input paths keep working;
* an explicit ``PYTHONHASHSEED`` and a quiet ``TF_CPP_MIN_LOG_LEVEL`` (unless
  the user set one);
* a log file receiving the script's stdout and stderr, and a JSON result file
  the harness writes.

Nothing here imports TensorFlow or Keras.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TextIO

# Mirroring policy (documented in the README section).
COPY_MAX_FILE_BYTES = 1 << 20  # regular files up to 1 MiB are copied ...
COPY_MAX_TOTAL_BYTES = 32 << 20  # ... until 32 MiB were copied for one run
MAX_MIRRORED_ENTRIES = 20_000  # beyond this, directories are linked whole
# Directories that are never walked (linked whole): tool caches and envs.
LINK_WHOLE_DIRS = frozenset(
    {".git", ".hg", ".svn", "__pycache__", ".venv", "venv", "env", "node_modules",
     ".mypy_cache", ".pytest_cache", ".tox", ".nox", ".ruff_cache"}
)


@dataclass
class _MirrorBudget:
    entries: int = MAX_MIRRORED_ENTRIES
    copy_bytes: int = COPY_MAX_TOTAL_BYTES
    # Real paths never mirrored: verify's own temporary directory, which lies
    # inside the working directory when verify is run from the temp dir.
    exclude: frozenset[str] = frozenset()


def mirror_directory(src: Path, dst: Path, budget: _MirrorBudget | None = None) -> None:
    """Make ``dst`` look like ``src`` for a script that reads relative paths.

    Sub-directories are recreated as real directories (so new files written
    into them stay in ``dst``), small regular files are copied (so overwriting
    them does not touch the originals), and large files, symbolic links, tool
    directories and anything past the budget are symbolic links to the
    originals (reads work; writes through such a link reach the original).
    """
    budget = budget or _MirrorBudget()
    dst.mkdir(parents=True, exist_ok=True)
    try:
        entries = sorted(os.scandir(src), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        target = dst / entry.name
        source = Path(entry.path)
        if budget.exclude and os.path.realpath(source) in budget.exclude:
            continue
        budget.entries -= 1
        try:
            if entry.is_symlink():
                os.symlink(os.path.abspath(source), target)
            elif entry.is_dir():
                if entry.name in LINK_WHOLE_DIRS or budget.entries <= 0:
                    os.symlink(source, target, target_is_directory=True)
                else:
                    mirror_directory(source, target, budget)
            elif entry.is_file():
                size = entry.stat().st_size
                if size <= COPY_MAX_FILE_BYTES and size <= budget.copy_bytes and budget.entries > 0:
                    shutil.copy2(source, target)
                    budget.copy_bytes -= size
                else:
                    os.symlink(source, target)
            else:  # sockets, fifos, devices: link, never copy
                os.symlink(source, target)
        except OSError:
            # An unreadable entry is simply absent in the scratch directory,
            # as it would be unusable by the script anyway.
            continue


def prepare_workdir(scratch: Path, original_cwd: Path, script: Path) -> str:
    """Fill ``scratch`` from ``original_cwd`` and return the script path to run.

    When the script lies inside the original working directory it is run
    from its mirrored copy (so files written next to ``__file__`` are
    isolated too), using the same relative path; otherwise it is run from
    its original absolute path.
    """
    # scratch's parent is verify's temporary root: never mirror it into itself.
    exclude = frozenset({os.path.realpath(scratch.parent)})
    mirror_directory(original_cwd, scratch, _MirrorBudget(exclude=exclude))
    try:
        relative = script.resolve().relative_to(original_cwd.resolve())
    except ValueError:
        return str(script.resolve())
    if (scratch / relative).exists():
        return str(relative)
    return str(script.resolve())


@dataclass
class RunSpec:
    """One execution of the user's script under the harness."""

    label: str  # e.g. "run 1", "pinned 2", "control"
    script: Path
    args: list[str]
    hash_seed: str
    workdir_root: Path  # scratch directories and results are created below it
    log_path: Path
    seed_offset: int = 0
    max_steps: int | None = None
    timeout: float | None = None
    # Extra harness options of diagnostic re-runs (--trace, --probe-step N).
    harness_args: list[str] = field(default_factory=list)


@dataclass
class RunOutcome:
    """What one run produced."""

    label: str
    hash_seed: str
    seed_offset: int
    exit_code: int | None
    timed_out: bool
    duration_s: float
    log_path: Path
    result: dict[str, Any] | None
    result_error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        """True when the run crashed, timed out, exited non-zero or wrote no results."""
        return self.timed_out or self.exit_code != 0 or self.result is None

    def to_json(self) -> dict[str, Any]:
        """A JSON-friendly summary (the captured values are reported separately)."""
        return {
            "label": self.label,
            "hash_seed": self.hash_seed,
            "seed_offset": self.seed_offset,
            "exit_code": self.exit_code,
            "timed_out": self.timed_out,
            "duration_s": round(self.duration_s, 3),
            "log": str(self.log_path),
            "result_error": self.result_error,
            "status": None if self.result is None else self.result.get("status"),
        }


def _package_root() -> str:
    import tf_repro_migrate

    return str(Path(tf_repro_migrate.__file__).resolve().parent.parent)


def child_environment(hash_seed: str, base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment of a run: the user's, plus the harness' few settings."""
    env = dict(os.environ if base is None else base)
    env["PYTHONHASHSEED"] = hash_seed
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # Unbuffered so the log tail is complete even if the process is killed.
    env["PYTHONUNBUFFERED"] = "1"
    # Make the harness importable even when this package is not installed in
    # the interpreter's site-packages (e.g. run from a source tree); appended
    # so the user's own PYTHONPATH entries keep precedence.
    root = _package_root()
    parts = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if root not in parts:
        parts.append(root)
    env["PYTHONPATH"] = os.pathsep.join(parts)
    return env


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    # The child leads its own session (start_new_session=True), so its process
    # group contains exactly the processes this run started.
    for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


ProgressFn = Callable[[str, float], None]


def execute(spec: RunSpec, original_cwd: Path, progress: ProgressFn | None = None) -> RunOutcome:
    """Run the script once under the harness and collect its results."""
    scratch = Path(tempfile.mkdtemp(prefix="work-", dir=spec.workdir_root))
    result_path = spec.workdir_root / f"{spec.label.replace(' ', '-')}.result.json"
    try:
        script_arg = prepare_workdir(scratch, original_cwd, spec.script)
        cmd = [sys.executable, "-m", "tf_repro_migrate.verify.harness", "--result", str(result_path)]
        if spec.max_steps is not None:
            cmd += ["--max-steps", str(spec.max_steps)]
        if spec.seed_offset:
            cmd += ["--seed-offset", str(spec.seed_offset)]
        cmd += [*spec.harness_args, script_arg, *spec.args]
        spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        timed_out = False
        with open(spec.log_path, "wb") as log:
            proc = subprocess.Popen(
                cmd,
                cwd=scratch,
                env=child_environment(spec.hash_seed),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                while True:
                    elapsed = time.perf_counter() - started
                    if spec.timeout is not None and elapsed >= spec.timeout:
                        timed_out = True
                        _kill_group(proc)
                        break
                    step = 0.5 if progress else 5.0
                    if spec.timeout is not None:
                        step = max(0.05, min(step, spec.timeout - elapsed))
                    try:
                        proc.wait(timeout=step)
                        break
                    except subprocess.TimeoutExpired:
                        if progress:
                            progress(spec.label, time.perf_counter() - started)
            except BaseException:
                _kill_group(proc)  # Ctrl-C: do not leave a training run behind
                raise
        duration = time.perf_counter() - started
        result, result_error = _load_result(result_path)
        return RunOutcome(
            label=spec.label,
            hash_seed=spec.hash_seed,
            seed_offset=spec.seed_offset,
            exit_code=proc.returncode,
            timed_out=timed_out,
            duration_s=duration,
            log_path=spec.log_path,
            result=result,
            result_error=result_error,
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _load_result(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    if not path.exists():
        return None, "the harness wrote no result file (killed, or the script called os._exit?)"
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh), None
    except (OSError, ValueError) as exc:
        return None, f"unreadable result file: {exc}"


def log_tail(path: Path, lines: int = 25) -> str:
    """The last ``lines`` lines of a run's log (decoded leniently)."""
    try:
        data = path.read_bytes()
    except OSError:
        return ""
    text = data[-64_000:].decode("utf-8", errors="replace")
    return "\n".join(text.rstrip("\n").splitlines()[-lines:])


def tty_progress(stream: TextIO) -> ProgressFn:
    """A progress printer that rewrites one status line on a terminal."""

    def show(label: str, elapsed: float) -> None:
        stream.write(f"\r\033[K[verify] {label}: running, {elapsed:5.1f}s")
        stream.flush()

    return show
