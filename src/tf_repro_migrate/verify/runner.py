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
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TextIO

# Mirroring policy (documented in the README section "verify: limits and safety").
# Every budget can be lowered (or raised) through the TF_REPRO_VERIFY_* variable
# named next to it.
COPY_MAX_FILE_BYTES = 16 << 20  # TF_REPRO_VERIFY_COPY_MAX_FILE_BYTES: larger files are linked
COPY_MAX_TOTAL_BYTES = 128 << 20  # TF_REPRO_VERIFY_COPY_MAX_TOTAL_BYTES: bytes copied per run
MIRROR_MAX_SECONDS = 20.0  # TF_REPRO_VERIFY_MIRROR_MAX_SECONDS: time spent mirroring per run
MAX_MIRRORED_ENTRIES = 20_000  # TF_REPRO_VERIFY_MIRROR_MAX_ENTRIES: beyond this, directories are linked whole
_READ_CHUNK = 1 << 20
# The child's entry point: installs the copy-on-write guard, then runs the harness.
HARNESS_MODULE = "tf_repro_migrate.verify.guard"
SCRATCH_ENV = "TF_REPRO_VERIFY_SCRATCH"  # same name as guard.SCRATCH_ENV (not imported: no side effects)
# Directories that are never walked (linked whole): tool caches and envs.
LINK_WHOLE_DIRS = frozenset(
    {".git", ".hg", ".svn", "__pycache__", ".venv", "venv", "env", "node_modules",
     ".mypy_cache", ".pytest_cache", ".tox", ".nox", ".ruff_cache"}
)
# Kernel pseudo-filesystems: their "regular" files report size 0 and may be
# endless (/proc/<pid>/pagemap) or block on read (/proc/kmsg).
_PSEUDO_FS_ROOTS = ("/proc", "/sys", "/dev")


def _env_number(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return float(raw)
    except ValueError:
        return default


@dataclass
class MirrorBudget:
    """Limits of one mirror, and what the mirror did (filled in while it runs)."""

    max_file_bytes: int = COPY_MAX_FILE_BYTES
    max_total_bytes: int = COPY_MAX_TOTAL_BYTES
    seconds: float = MIRROR_MAX_SECONDS
    entries: int = MAX_MIRRORED_ENTRIES
    # Real paths never mirrored: verify's own temporary directory, which lies
    # inside the working directory when verify is run from the temp dir.
    exclude: frozenset[str] = frozenset()
    # st_dev of the mirrored tree (default: the source directory's); entries on
    # another device are mount points of another filesystem: linked, never read.
    device: int | None = None
    # -- accounting --
    copied_bytes: int = 0
    exhausted: set[str] = field(default_factory=set)  # "bytes", "time", "entries"
    skipped_special: int = 0
    other_filesystems: int = 0
    # (link in the scratch directory, original it points to) for every link made
    links: list[tuple[str, str]] = field(default_factory=list)
    deadline: float | None = None

    def __post_init__(self) -> None:
        self.entries_limit = self.entries  # ``entries`` counts down while mirroring

    @classmethod
    def from_env(cls, exclude: frozenset[str] = frozenset()) -> MirrorBudget:
        """The default budget, with the ``TF_REPRO_VERIFY_*`` overrides applied."""
        return cls(
            max_file_bytes=int(_env_number("TF_REPRO_VERIFY_COPY_MAX_FILE_BYTES", COPY_MAX_FILE_BYTES)),
            max_total_bytes=int(_env_number("TF_REPRO_VERIFY_COPY_MAX_TOTAL_BYTES", COPY_MAX_TOTAL_BYTES)),
            seconds=_env_number("TF_REPRO_VERIFY_MIRROR_MAX_SECONDS", MIRROR_MAX_SECONDS),
            entries=int(_env_number("TF_REPRO_VERIFY_MIRROR_MAX_ENTRIES", MAX_MIRRORED_ENTRIES)),
            exclude=exclude,
        )

    def out_of_time(self) -> bool:
        """True once the time budget is spent (and remembers that it was)."""
        if self.deadline is not None and time.monotonic() >= self.deadline:
            self.exhausted.add("time")
            return True
        return False

    def summary(self) -> dict[str, Any]:
        """What the mirror did, JSON-friendly."""
        return {"copied_bytes": self.copied_bytes, "exhausted": sorted(self.exhausted),
                "max_total_bytes": self.max_total_bytes, "max_entries": self.entries_limit,
                "seconds": self.seconds,
                "links": len(self.links), "skipped_special": self.skipped_special,
                "other_filesystems": self.other_filesystems}


# The former private name, kept for callers of the first release.
_MirrorBudget = MirrorBudget


def check_workdir(path: Path) -> str | None:
    """Why ``path`` must not be mirrored as the runs' working directory, or None.

    Only the path is inspected (nothing below it is listed or read).
    """
    resolved = Path(os.path.realpath(path))
    advice = "run verify from your project directory or pass --workdir DIR"
    if not resolved.is_dir():
        return f"working directory {path} is not a directory; {advice}"
    if resolved.parent == resolved:
        return (f"working directory {resolved} is a filesystem root: every run would mirror the "
                f"whole machine; {advice}")
    text = str(resolved)
    for root in _PSEUDO_FS_ROOTS:
        if text == root or text.startswith(root + os.sep):
            return (f"working directory {resolved} is on a kernel pseudo-filesystem ({root}), whose "
                    f"files cannot be copied safely; {advice}")
    return None


def mirror_directory(src: Path, dst: Path, budget: MirrorBudget | None = None) -> None:
    """Make ``dst`` look like ``src`` for a script that reads relative paths.

    Sub-directories are recreated as real directories (so new files written
    into them stay in ``dst``) and regular files are copied (so overwriting
    them does not touch the originals), within ``budget``.  Larger files,
    symbolic links, tool directories, other filesystems (mount points) and
    anything past the budget are symbolic links to the originals; the guard
    (:mod:`tf_repro_migrate.verify.guard`) turns a link into a private copy
    before the script writes through it.  Devices, FIFOs and sockets are left
    out: they are never opened, not even to look at them.
    """
    budget = budget or MirrorBudget.from_env()
    if budget.device is None:
        try:
            budget.device = os.stat(src).st_dev
        except OSError:
            return
    if budget.deadline is None:
        budget.deadline = time.monotonic() + budget.seconds
    _mirror(src, dst, budget)


def _link(source: str, target: Path, budget: MirrorBudget, is_dir: bool = False) -> None:
    os.symlink(source, target, target_is_directory=is_dir)
    budget.links.append((str(target), source))


def _mirror(src: Path, dst: Path, budget: MirrorBudget) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    try:
        entries = sorted(os.scandir(src), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        target = dst / entry.name
        source = entry.path
        if budget.exclude and os.path.realpath(source) in budget.exclude:
            continue
        try:
            # lstat only: the mode and device decide, the contents are not touched.
            st = entry.stat(follow_symlinks=False)
            mode = st.st_mode
            if stat.S_ISLNK(mode):
                _link(os.path.abspath(source), target, budget)
                continue
            if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
                budget.skipped_special += 1  # device, FIFO, socket: never opened
                continue
            is_dir = stat.S_ISDIR(mode)
            if st.st_dev != budget.device:
                budget.other_filesystems += 1
                _link(source, target, budget, is_dir)
                continue
            budget.entries -= 1
            if budget.entries <= 0:
                budget.exhausted.add("entries")
            stop = budget.entries <= 0 or budget.out_of_time()
            if is_dir:
                if entry.name in LINK_WHOLE_DIRS or stop:
                    _link(source, target, budget, True)
                else:
                    _mirror(Path(source), target, budget)
                continue
            fits = (st.st_size <= budget.max_file_bytes
                    and budget.copied_bytes + st.st_size <= budget.max_total_bytes)
            if not fits and st.st_size <= budget.max_file_bytes:
                budget.exhausted.add("bytes")
            if stop or not fits or not _copy_regular(source, target, st, budget):
                _link(source, target, budget)
        except OSError:
            # An unreadable entry is simply absent in the scratch directory,
            # as it would be unusable by the script anyway.
            continue


class _Abandon(Exception):
    """The file turned out bigger than its budget (or the time ran out)."""


def _copy_regular(source: str, target: Path, st: os.stat_result, budget: MirrorBudget) -> bool:
    """Copy one regular file, counting the bytes actually read; False if abandoned.

    The size from ``stat`` is only a hint (pseudo-files say 0 and never end):
    reading stops as soon as more than the per-file or total budget arrived.
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(source, flags)
    try:
        fst = os.fstat(fd)
        # Replaced between scandir and open (by a FIFO, say): do not read it.
        if not stat.S_ISREG(fst.st_mode) or (fst.st_dev, fst.st_ino) != (st.st_dev, st.st_ino):
            return False
        limit = min(budget.max_file_bytes, budget.max_total_bytes - budget.copied_bytes)
        out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
        copied = 0
        try:
            while True:
                chunk = os.read(fd, _READ_CHUNK)
                if not chunk:
                    break
                copied += len(chunk)
                if copied > limit:
                    budget.exhausted.add("bytes")
                    raise _Abandon
                if budget.out_of_time():
                    raise _Abandon
                view = memoryview(chunk)
                while view:
                    view = view[os.write(out, view):]
        except BaseException as exc:
            os.close(out)
            os.unlink(target)
            if isinstance(exc, _Abandon):
                return False
            raise
        os.close(out)
        budget.copied_bytes += copied
        os.chmod(target, stat.S_IMODE(fst.st_mode))
        os.utime(target, ns=(fst.st_atime_ns, fst.st_mtime_ns))
        return True
    finally:
        os.close(fd)


def prepare_workdir(scratch: Path, original_cwd: Path, script: Path,
                    budget: MirrorBudget | None = None) -> str:
    """Fill ``scratch`` from ``original_cwd`` and return the script path to run.

    When the script lies inside the original working directory it is run
    from its mirrored copy (so files written next to ``__file__`` are
    isolated too), using the same relative path; otherwise it is run from
    its original absolute path.
    """
    # scratch's parent is verify's temporary root: never mirror it into itself.
    if budget is None:
        budget = MirrorBudget.from_env()
    budget.exclude = budget.exclude | {os.path.realpath(scratch.parent)}
    mirror_directory(original_cwd, scratch, budget)
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
    # A command prefix (``srun ...``, ``docker exec NAME``, a wrapper script):
    # the run executes wherever it puts it; the result file still comes back.
    launcher: list[str] = field(default_factory=list)
    harness_args: list[str] = field(default_factory=list)  # e.g. --capture-outputs
    # Glob patterns (relative to the run's working directory) of files the
    # script writes, digested after the run for --compare-files.
    compare_files: list[str] = field(default_factory=list)


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


def fingerprint_originals(links: list[tuple[str, str]]) -> dict[str, tuple[int, ...] | None]:
    """A stat fingerprint of every original the scratch directory links to.

    Compared before and after a run, it reveals writes that reached a user's
    file through a link (made from C code, which the guard does not see).
    Only ``stat`` is called: nothing is opened.
    """
    prints: dict[str, tuple[int, ...] | None] = {}
    for _link, original in links:
        try:
            st = os.stat(original)
        except OSError:
            prints[original] = None
            continue
        prints[original] = (st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
    return prints


def changed_originals(before: dict[str, tuple[int, ...] | None],
                      after: dict[str, tuple[int, ...] | None]) -> list[str]:
    """The originals whose fingerprint differs between ``before`` and ``after``."""
    return sorted(path for path, print_ in before.items() if after.get(path) != print_)


def _group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, but is not ours to signal (cannot happen for our own group)
    return True


def end_group(proc: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """End every process of the run: SIGTERM to its group, SIGKILL after ``grace`` seconds.

    The child leads its own session (``start_new_session=True``), so the
    process group whose id is its pid holds exactly the processes this run
    started, including background children that outlived it (only a child
    that starts a session of its own escapes).  Called when a run ends for
    any reason: normally, on timeout, on Ctrl-C, SIGTERM or SIGHUP.
    """
    pgid = proc.pid
    deadline = time.monotonic() + grace
    if _group_exists(pgid):
        try:
            os.killpg(pgid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    while time.monotonic() < deadline:
        # Reap the leader if it is done, then see whether anyone is left.
        # (A leftover that ended but whose new parent does not reap it keeps
        # the group alive as a zombie until the deadline; SIGKILL is harmless.)
        leader_done = proc.poll() is not None
        if leader_done and not _group_exists(pgid):
            return
        time.sleep(0.05)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass


# The former name.
_kill_group = end_group


ProgressFn = Callable[[str, float], None]


def execute(spec: RunSpec, original_cwd: Path, progress: ProgressFn | None = None) -> RunOutcome:
    """Run the script once under the harness and collect its results."""
    scratch = Path(tempfile.mkdtemp(prefix="work-", dir=spec.workdir_root))
    result_path = spec.workdir_root / f"{spec.label.replace(' ', '-')}.result.json"
    try:
        budget = MirrorBudget.from_env()
        script_arg = prepare_workdir(scratch, original_cwd, spec.script, budget)
        # The guard module installs copy-on-write for the mirror's links, then runs the harness.
        cmd = [sys.executable, "-m", HARNESS_MODULE, "--result", str(result_path)]
        if spec.max_steps is not None:
            cmd += ["--max-steps", str(spec.max_steps)]
        if spec.seed_offset:
            cmd += ["--seed-offset", str(spec.seed_offset)]
        cmd += [*spec.harness_args, script_arg, *spec.args]
        cmd = [*spec.launcher, *cmd]
        spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        timed_out = False
        env = child_environment(spec.hash_seed)
        env[SCRATCH_ENV] = str(scratch)
        before = fingerprint_originals(budget.links)
        with open(spec.log_path, "wb") as log:
            proc = subprocess.Popen(
                cmd,
                cwd=scratch,
                env=env,
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
            finally:
                duration = time.perf_counter() - started
                # Timed out, finished (its background children must not outlive
                # it), or interrupted (Ctrl-C, SIGTERM, SIGHUP): end the group.
                end_group(proc)
        changed = changed_originals(before, fingerprint_originals(budget.links))
        result, result_error = _load_result(result_path)
        extra: dict[str, Any] = {"mirror": budget.summary(), "changed_originals": changed}
        if spec.compare_files:
            from tf_repro_migrate.verify.outputs import digest_files

            extra["files"] = digest_files(scratch, spec.compare_files)
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
            extra=extra,
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
