"""One bad file never ends the run: parser crashes, memory, time, malformed input, signals.

Inputs that crashed or hung the run are fed to the real command line in a subprocess
(a segfault there must not take pytest with it), mixed with ordinary files that must
still be migrated; the worker processes are attacked with real signals.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tf_repro_migrate.context import Options
from tf_repro_migrate.pipeline import POOL_THRESHOLD, FileResult, Job
from tf_repro_migrate.workers import WorkerPool

ROOT = Path(__file__).resolve().parent.parent
# Python's random is seeded too, so the migration is the rename alone (no random.seed added for Keras 3).
LEGACY_SEED = "import random\nimport tensorflow as tf\nrandom.seed(1)\ntf.set_random_seed(1)\n"
MIGRATED_SEED = "import random\nimport tensorflow as tf\nrandom.seed(1)\ntf.random.set_seed(1)\n"
HEAD = "import tensorflow as tf\ntf.set_random_seed(0)\n"  # so the pre-filter lets the file through


def cli(*args: object, cwd: Path | None = None, timeout: float = 120, stdin: str | None = None,
        ) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "tf_repro_migrate", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, cwd=cwd, env=env, input=stdin)


def nested_parens() -> str:
    return HEAD + "x = " + "(" * 5000 + "1" + ")" * 5000 + "\n"


def nested_brackets() -> str:
    return HEAD + "x = " + "[" * 3000 + "]" * 3000 + "\n"


def long_chain(terms: int) -> str:
    return HEAD + "x = " + " + ".join(["1"] * terms) + "\n"


def _good_files(root: Path, count: int) -> list[Path]:
    files = []
    for i in range(count):
        f = root / f"good_{i:02d}.py"
        f.write_text(LEGACY_SEED)
        files.append(f)
    return files


def _assert_one_line_errors(proc: subprocess.CompletedProcess[str], bad: dict[Path, str]) -> None:
    assert "Traceback" not in proc.stderr and "BrokenProcessPool" not in proc.stderr
    for path, reason in bad.items():
        lines = [line for line in proc.stderr.splitlines() if line.startswith(f"{path}: error: ")]
        assert len(lines) == 1, proc.stderr
        assert reason in lines[0], lines[0]


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_deep_nesting_is_an_error_for_that_file_and_the_others_are_migrated(tmp_path: Path, jobs: str) -> None:
    # Both used to kill the process with SIGSEGV inside libcst's native parser (exit 139,
    # nothing printed; a BrokenProcessPool traceback with -j 2). With -j 2 the tree is big
    # enough for several workers.
    good = _good_files(tmp_path, POOL_THRESHOLD + 4)
    parens, brackets = tmp_path / "parens.py", tmp_path / "brackets.py"
    parens.write_text(nested_parens())
    brackets.write_text(nested_brackets())
    proc = cli("--write", "-j", jobs, tmp_path)
    assert proc.returncode == 2, proc.stderr
    _assert_one_line_errors(proc, {parens: "too many nested parentheses", brackets: "too many nested parentheses"})
    assert all(f.read_text() == MIGRATED_SEED for f in good)
    assert f"{len(good) + 2} files scanned" in proc.stdout and "2 failed" in proc.stdout


def test_a_long_chain_is_refused_quickly(tmp_path: Path) -> None:
    # 100,000 terms took libcst minutes; CPython's parser refuses it at once.
    chain = tmp_path / "chain.py"
    chain.write_text(long_chain(100_000))
    (tmp_path / "good.py").write_text(LEGACY_SEED)
    start = time.monotonic()
    proc = cli(tmp_path, timeout=60)
    assert time.monotonic() - start < 30
    assert proc.returncode == 2
    _assert_one_line_errors(proc, {chain: "too deeply nested"})
    assert "+tf.random.set_seed(1)" in proc.stdout


def test_a_huge_file_is_refused_before_parsing(tmp_path: Path) -> None:
    # A 50 MB file made libcst use over 20 GB; files over the size limit are not parsed.
    huge = tmp_path / "huge.py"
    huge.write_text(HEAD + "x = [1, 2, 3]  # a generated line of data\n" * 260_000)  # 11 MB
    (tmp_path / "good.py").write_text(LEGACY_SEED)
    proc = cli("--check", tmp_path, timeout=60)
    assert proc.returncode == 2
    _assert_one_line_errors(proc, {huge: "too large to migrate (10.4 MB; the limit is 10 MB per file)"})
    assert str(tmp_path / "good.py") in proc.stdout.splitlines()


def test_per_file_time_limit(tmp_path: Path) -> None:
    # A 2,000-term chain is valid for CPython and takes libcst seconds: over a 0.3 s limit.
    slow = tmp_path / "a_slow.py"
    slow.write_text(long_chain(2000))
    good = _good_files(tmp_path, 2)
    proc = cli("--write", "--timeout-per-file", "0.3", tmp_path)
    assert proc.returncode == 2
    _assert_one_line_errors(proc, {slow: "timed out after 0.3 s (limit: --timeout-per-file)"})
    assert all(f.read_text() == MIGRATED_SEED for f in good)


def test_timeout_option_is_documented_in_help() -> None:
    proc = cli("--help")
    assert "--timeout-per-file" in proc.stdout and "default 60" in proc.stdout


def _kill_worker_when_busy(sig: int, after: float) -> threading.Thread:
    def kill() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            children = multiprocessing.active_children()
            if children:
                time.sleep(after)
                os.kill(children[0].pid, sig)
                return
            time.sleep(0.01)

    thread = threading.Thread(target=kill, daemon=True)
    thread.start()
    return thread


def test_a_worker_that_crashes_is_an_error_for_its_file_and_a_new_worker_goes_on(tmp_path: Path) -> None:
    # A real SIGSEGV in the worker while it parses the slow file (what libcst's parser did).
    slow = tmp_path / "slow.py"
    slow.write_text(long_chain(2000))
    good = _good_files(tmp_path, 3)
    killer = _kill_worker_when_busy(signal.SIGSEGV, 0.3)
    results = list(WorkerPool(Job(Options(), write=True), 1, timeout=60).map([slow, *good]))
    killer.join()
    assert [r.path for r in results] == [str(slow), *map(str, good)]
    assert results[0].status == "error"
    assert results[0].error == ("the parser crashed (killed by SIGSEGV); the file is probably too deeply "
                                "nested or too large")
    assert [r.status for r in results[1:]] == ["written"] * 3
    assert all(f.read_text() == MIGRATED_SEED for f in good)
    assert not multiprocessing.active_children()


def _vm_size() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmSize")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc to size the limit")
def test_a_file_over_the_memory_limit_fails_alone(tmp_path: Path) -> None:
    # 2 MB of real code needs far more than 150 MB in libcst: the worker hits its limit.
    big = tmp_path / "big.py"
    big.write_text(HEAD + "".join(f"def f{i}(a, b):\n    return [a * b + {i}]\n" for i in range(60_000)))
    good = _good_files(tmp_path, 1)
    pool = WorkerPool(Job(Options()), 1, timeout=120, memory_limit=_vm_size() + (150 << 20))
    results: list[FileResult] = list(pool.map([big, *good]))
    assert results[0].status == "error" and results[0].path == str(big)
    assert "out of memory" in str(results[0].error) or "the parser crashed" in str(results[0].error)
    assert results[1].status == "changed"


NOTEBOOK_CELL = ('{"cell_type": "code", "execution_count": null, "metadata": {}, "outputs": [], '
                 '"source": ["import tensorflow as tf\\n", "tf.set_random_seed(1)\\n"]}')


def _notebook(cells: str, nbformat: int = 4) -> str:
    return f'{{"cells": {cells}, "metadata": {{}}, "nbformat": {nbformat}, "nbformat_minor": 5}}\n'


@pytest.mark.parametrize(
    "cells, reason",
    [
        ('{"a": 1}', "malformed notebook: 'cells' is an object, not a list"),
        ('"cells"', "malformed notebook: 'cells' is a string, not a list"),
        (f'[{NOTEBOOK_CELL}, 7]', "malformed notebook: cell 2 is a number, not an object"),
        ('[["a"]]', "malformed notebook: cell 1 is a list, not an object"),
        ('[{"cell_type": "code", "metadata": {}, "outputs": [], "source": null}]',
         "malformed notebook: the source of cell 1 is null, not a string or a list of strings"),
        ('[{"cell_type": "code", "metadata": {}, "outputs": [], "source": [1, 2]}]',
         "malformed notebook: the source of cell 1 is a list containing a number, not a string or a list of strings"),
    ],
)
def test_malformed_notebook_structure_is_a_one_line_error(tmp_path: Path, cells: str, reason: str) -> None:
    bad = tmp_path / "bad.ipynb"
    bad.write_text(_notebook(cells))
    good = tmp_path / "good.ipynb"
    good.write_text(_notebook(f"[{NOTEBOOK_CELL}]"))
    before = bad.read_bytes()
    proc = cli("--write", tmp_path)
    assert proc.returncode == 2, proc.stderr
    _assert_one_line_errors(proc, {bad: reason})
    assert proc.stderr.splitlines()[0] == f"{bad}: error: {reason}"
    assert bad.read_bytes() == before
    assert "tf.random.set_seed(1)" in good.read_text()


def test_nbformat_3_says_so(tmp_path: Path) -> None:
    # A real nbformat 3 notebook keeps its cells under "worksheets".
    nb = tmp_path / "old.ipynb"
    nb.write_text('{"metadata": {}, "nbformat": 3, "nbformat_minor": 0, "worksheets": [{"cells": []}]}\n')
    proc = cli(nb)
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[0].startswith(f"{nb}: error: nbformat 3 is not supported")


# -- unexpected errors and signals ---------------------------------------------------------------


def test_an_unexpected_exception_exits_2_with_one_line_and_the_traceback_only_with_verbose(tmp_path: Path) -> None:
    # A real one: a file name the output encoding cannot print (the summary counts it first).
    (tmp_path / "d\u00e9j\u00e0.py").write_text(LEGACY_SEED)
    env_ascii = {"PYTHONIOENCODING": "ascii:strict"}
    proc = _cli_env(env_ascii, tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tf-repro-migrate: internal error: UnicodeEncodeError: ")
    assert "Traceback" not in proc.stderr and "--verbose" in lines[0]
    proc = _cli_env(env_ascii, "--verbose", tmp_path)
    assert proc.returncode == 2 and "Traceback (most recent call last)" in proc.stderr


def _cli_env(extra: dict[str, str], *args: object) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **extra, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "tf_repro_migrate", *map(str, args)], capture_output=True,
                          text=True, timeout=120, env=env, errors="replace")


def _children(pid: int) -> set[int]:
    """The direct children of ``pid`` (Linux /proc)."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        found.update(int(c) for c in task.read_text().split())
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def _slow_tree(root: Path, slow: int = 3, good: int = 3) -> list[Path]:
    for i in range(slow):
        (root / f"slow_{i}.py").write_text(long_chain(2000))
    return _good_files(root, good)


def _start(args: list[object], **kwargs: object) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen([sys.executable, "-m", "tf_repro_migrate", *map(str, args)], env=env,
                            **kwargs)  # type: ignore[call-overload]


def _wait_for_workers(proc: subprocess.Popen[bytes], timeout: float = 60) -> set[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = _children(proc.pid)
        if children:
            return children
        time.sleep(0.02)
    raise AssertionError("no worker started")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc and the parent-death signal")
def test_workers_die_with_their_parent_even_when_it_is_sigkilled(tmp_path: Path) -> None:
    _slow_tree(tmp_path)
    proc = _start(["--write", "-j", "1", tmp_path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers = _wait_for_workers(proc)
    proc.kill()
    proc.wait(10)
    deadline = time.monotonic() + 10
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(w) for w in workers)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_and_sigterm_end_quietly_with_their_exit_code_and_no_temporary_files(
        tmp_path: Path, sig: int, code: int) -> None:
    _slow_tree(tmp_path)
    proc = _start(["--write", "-j", "1", tmp_path], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    workers = _wait_for_workers(proc)
    time.sleep(0.2)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == code, err
    assert b"Traceback" not in err
    assert not any(_alive(w) for w in workers)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tf-repro-migrate.tmp")]


def test_a_closed_pipe_ends_quietly_with_141(tmp_path: Path) -> None:
    # `tf-repro-migrate tree | head -1`: far more output than a pipe buffer holds.
    for i in range(60):
        (tmp_path / f"m{i:02d}.py").write_text(LEGACY_SEED + "".join(f"x{j} = {j}\n" for j in range(300)) + LEGACY_SEED)
    proc = _start(["-j", "1", tmp_path], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(60) == 141
    assert err == b"", err


def test_stale_temporary_files_of_dead_runs_are_removed_and_live_ones_kept(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".a.py.{dead.pid}.k2j3h4g5.tf-repro-migrate.tmp"
    live = tmp_path / f".a.py.{os.getpid()}.x9y8z7w6.tf-repro-migrate.tmp"
    other = tmp_path / ".notes.tmp"
    for p in (stale, live, other):
        p.write_text("half")
    sub = tmp_path / "pkg"
    sub.mkdir()
    stale_sub = sub / f".b.py.{dead.pid}.abcdefgh.tf-repro-migrate.tmp"
    stale_sub.write_text("half")
    (tmp_path / "a.py").write_text(LEGACY_SEED)
    # a diff run leaves them (it writes nothing); --write removes those of dead processes
    assert cli(tmp_path).returncode == 1 and stale.exists()
    proc = cli("--write", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert not stale.exists() and not stale_sub.exists()
    assert live.exists() and other.exists()
    # explicit files: their directory is cleaned too
    stale.write_text("half")
    assert cli("--write", tmp_path / "a.py").returncode == 0 and not stale.exists()


# -- --write keeps what it does not own ----------------------------------------------------------


def test_write_atomic_refuses_a_file_changed_since_it_was_read(tmp_path: Path) -> None:
    from tf_repro_migrate.fileio import FileChangedError, read_source_stat, write_atomic

    f = tmp_path / "a.py"
    f.write_text(LEGACY_SEED)
    data, st = read_source_stat(f)
    f.write_text(LEGACY_SEED + "# edited by someone else\n")
    with pytest.raises(FileChangedError):
        write_atomic(f, b"new\n", expected=st)
    assert f.read_text() == LEGACY_SEED + "# edited by someone else\n"
    assert [p.name for p in tmp_path.iterdir()] == ["a.py"]  # no temporary file left


def _bytes_read(pid: int) -> int:
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    return 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")
def test_a_file_edited_during_the_run_is_not_overwritten_and_is_reported(tmp_path: Path) -> None:
    # A file that takes the engine seconds; it is edited after the worker has read it.
    f = tmp_path / "big.py"
    f.write_text(LEGACY_SEED + "".join(f"def f{i}(a, b):\n    return [a * b + {i} for _ in range(3)]\n"
                                       for i in range(1500)))
    size = f.stat().st_size
    proc = _start(["--write", "-j", "1", f], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    (worker,) = _wait_for_workers(proc)
    deadline = time.monotonic() + 60
    while _bytes_read(worker) < size and time.monotonic() < deadline:
        time.sleep(0.01)
    edited = f.read_text() + "# the user's edit\n"
    f.write_text(edited)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 2, err
    assert err.decode().splitlines()[0] == f"{f}: error: changed on disk while it was being migrated; " \
                                           "not overwritten"
    assert f.read_text() == edited


def test_an_explicit_symlink_gets_its_target_migrated_and_stays_a_link(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    target = real / "train.py"
    target.write_text(LEGACY_SEED)
    link = tmp_path / "train.py"
    link.symlink_to(os.path.join("real", "train.py"))
    proc = cli("--write", link)
    assert proc.returncode == 0, proc.stderr
    assert link.is_symlink() and os.readlink(link) == os.path.join("real", "train.py")
    assert target.read_text() == MIGRATED_SEED
    assert not [p for p in real.iterdir() if p.name != "train.py"]


def test_hard_links_all_see_the_new_content(tmp_path: Path) -> None:
    a = tmp_path / "a.py"
    a.write_text(LEGACY_SEED)
    b = tmp_path / "b_link.py"
    os.link(a, b)
    inode = a.stat().st_ino
    proc = cli("--write", a)
    assert proc.returncode == 0, proc.stderr
    assert a.stat().st_ino == inode == b.stat().st_ino and a.stat().st_nlink == 2
    assert b.read_text() == MIGRATED_SEED


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to give files away")
def test_owner_group_and_mode_are_kept_when_root_writes(tmp_path: Path) -> None:
    f = tmp_path / "a.py"
    f.write_text(LEGACY_SEED)
    os.chown(f, 4242, 4343)
    os.chmod(f, 0o640)
    proc = cli("--write", f)
    assert proc.returncode == 0, proc.stderr
    st = f.stat()
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (4242, 4343, 0o640)
    assert f.read_text() == MIGRATED_SEED
