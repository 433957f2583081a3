"""``verify`` must never harm the user's machine or files (issue 12).

The working-directory mirror is exercised on small fixtures built in
``tmp_path`` (a FIFO, a socket, files bigger than a low budget passed as a
parameter or through the ``TF_REPRO_VERIFY_*`` variables); nothing here reads
``/proc`` or writes more than a few kilobytes, and every child process runs
under a timeout.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tf_repro_migrate.verify import runner

SRC = Path(__file__).resolve().parents[1] / "src"
CHILD_TIMEOUT = 60


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONHASHSEED", None)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env.update(extra)
    return env


def _verify(cwd: Path, *args: str, timeout: float = 240, **env: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "tf_repro_migrate.verify.cli", *args]
    return subprocess.run(cmd, cwd=cwd, env=_env(**env), capture_output=True, text=True, timeout=timeout)


def _mirror_in_child(src: Path, dst: Path, **budget: Any) -> dict[str, Any]:
    """Mirror in a child process, so a read that blocks cannot hang the test run."""
    code = (
        "import json, sys; from pathlib import Path; from tf_repro_migrate.verify import runner\n"
        "b = runner.MirrorBudget(**json.loads(sys.argv[3]))\n"
        "runner.mirror_directory(Path(sys.argv[1]), Path(sys.argv[2]), b)\n"
        "print(json.dumps({'copied_bytes': b.copied_bytes, 'exhausted': sorted(b.exhausted),"
        " 'special': b.skipped_special, 'other_fs': b.other_filesystems, 'links': len(b.links)}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(src), str(dst), json.dumps(budget)],
                          env=_env(), capture_output=True, text=True, timeout=CHILD_TIMEOUT)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


# ---------------------------------------------------------------------------
# 1. the mirror copies only regular files, within a byte and time budget
# ---------------------------------------------------------------------------


def test_fifos_and_sockets_are_never_opened_nor_mirrored(tmp_path: Path) -> None:
    src, dst = tmp_path / "s", tmp_path / "d"
    src.mkdir()
    os.mkfifo(src / "pipe")  # opening it for reading would block forever
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(src / "sock"))
        (src / "small.txt").write_text("hello\n")
        stats = _mirror_in_child(src, dst)
    finally:
        sock.close()
    assert (dst / "small.txt").read_text() == "hello\n" and not (dst / "small.txt").is_symlink()
    assert not os.path.lexists(dst / "pipe") and not os.path.lexists(dst / "sock")
    assert stats["special"] == 2
    assert stats["copied_bytes"] == len("hello\n")


def test_bytes_are_counted_as_copied_and_the_budgets_hold(tmp_path: Path) -> None:
    src, dst = tmp_path / "s", tmp_path / "d"
    src.mkdir()
    (src / "a.bin").write_bytes(b"a" * 600)
    (src / "b.bin").write_bytes(b"b" * 600)  # would take the total over 1000
    (src / "c.bin").write_bytes(b"c" * 2000)  # over the per-file limit
    stats = _mirror_in_child(src, dst, max_file_bytes=1000, max_total_bytes=1000)
    assert not (dst / "a.bin").is_symlink() and (dst / "a.bin").read_bytes() == b"a" * 600
    assert (dst / "b.bin").is_symlink() and (dst / "c.bin").is_symlink()
    assert stats["copied_bytes"] == 600
    assert stats["exhausted"] == ["bytes"]


def test_another_filesystem_is_never_walked_nor_read(tmp_path: Path) -> None:
    src, dst = tmp_path / "s", tmp_path / "d"
    (src / "mnt").mkdir(parents=True)
    (src / "mnt" / "inner.txt").write_text("x")
    (src / "f.txt").write_text("y")
    # Declare the mirrored tree to live on another device than its entries:
    # every entry then counts as "another filesystem" (a mount point).
    other = os.stat(src).st_dev + 1
    stats = _mirror_in_child(src, dst, device=other)
    assert (dst / "mnt").is_symlink() and (dst / "f.txt").is_symlink()
    assert stats["copied_bytes"] == 0 and stats["other_fs"] == 2


def test_time_budget_stops_the_walk(tmp_path: Path) -> None:
    src, dst = tmp_path / "s", tmp_path / "d"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "x.txt").write_text("x")
    (src / "y.txt").write_text("y")
    stats = _mirror_in_child(src, dst, seconds=0.0)
    assert (dst / "sub").is_symlink() and (dst / "y.txt").is_symlink()
    assert stats["copied_bytes"] == 0 and "time" in stats["exhausted"]


@pytest.mark.parametrize("path, reason", [("/", "filesystem root"), ("/proc", "pseudo-filesystem"),
                                          ("/sys/kernel", "pseudo-filesystem")])
def test_roots_and_kernel_filesystems_are_refused(path: str, reason: str) -> None:
    message = runner.check_workdir(Path(path))
    assert message is not None and reason in message and "--workdir" in message


def test_project_directory_is_accepted(tmp_path: Path) -> None:
    assert runner.check_workdir(tmp_path) is None


def test_verify_refuses_a_filesystem_root_before_any_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    script = tmp_path / "train.py"
    script.write_text(f"open({str(marker)!r}, 'w').close()\n")
    proc = _verify(tmp_path, str(script), "--workdir", "/", timeout=CHILD_TIMEOUT)
    assert proc.returncode == 2, proc
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "filesystem root" in lines[0] and "--workdir" in lines[0]
    assert not marker.exists()


def test_workdir_option_chooses_the_mirrored_directory(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    (project / "data" / "in.txt").write_text("input\n")
    script = project / "train.py"
    script.write_text("assert open('data/in.txt').read() == 'input\\n'\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = _verify(elsewhere, str(script), "--workdir", str(project), timeout=CHILD_TIMEOUT)
    assert proc.returncode == 3, proc  # ran fine, trained nothing: INCONCLUSIVE
    assert "INCONCLUSIVE" in proc.stdout


def test_a_directory_far_larger_than_the_budget_gets_a_clear_message(tmp_path: Path) -> None:
    (tmp_path / "big.bin").write_bytes(b"z" * 5000)
    (tmp_path / "train.py").write_text("assert len(open('big.bin', 'rb').read()) == 5000\n")
    proc = _verify(tmp_path, "train.py", timeout=CHILD_TIMEOUT,
                   TF_REPRO_VERIFY_COPY_MAX_TOTAL_BYTES="1000")
    assert proc.returncode == 3, proc
    assert proc.stderr.count("mirror budget") == 1, proc.stderr  # once, not once per run
    assert "--workdir" in proc.stderr


# ---------------------------------------------------------------------------
# 2. the user's files never change, even the large ones the mirror links
# ---------------------------------------------------------------------------

_OVERWRITE_AND_APPEND = '''\
"""Overwrites an existing model file and appends to an existing log, as training scripts do."""
import numpy as np
import keras

with open("train.log") as fh:
    before = fh.read()
assert before == "old line\\n" * 400, "train.log already changed (by an earlier run?)"
assert len(open("model.keras", "rb").read()) == 3000, "model.keras already changed"

keras.utils.set_random_seed(5)
x = np.arange(32, dtype="float32").reshape(16, 2) / 32
y = x.sum(axis=1, keepdims=True)
model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(1)])
model.compile(optimizer="sgd", loss="mse")
model.fit(x, y, batch_size=4, epochs=1, verbose=0)
model.save("model.keras")
with open("train.log", "a") as fh:
    fh.write("trained\\n")
assert open("train.log").read() == before + "trained\\n", "append lost the existing lines"
assert keras.models.load_model("model.keras").count_params() == 3
'''


def _snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink()}


def test_large_files_the_script_overwrites_or_appends_to_never_change(tmp_path: Path) -> None:
    pytest.importorskip("keras")
    project = tmp_path / "project"
    project.mkdir()
    (project / "train.py").write_text(_OVERWRITE_AND_APPEND)
    (project / "model.keras").write_bytes(os.urandom(3000))  # larger than the copy limit below
    (project / "train.log").write_text("old line\n" * 400)  # 3600 bytes
    before = _snapshot(project)
    proc = _verify(project, "train.py", TF_REPRO_VERIFY_COPY_MAX_FILE_BYTES="1000")
    assert proc.returncode == 0, proc
    assert "VERDICT: REPRODUCIBLE" in proc.stdout
    assert _snapshot(project) == before


_C_LEVEL_WRITERS = '''\
"""Overwrites an HDF5 weights file (h5py, C) and appends with tf.io.gfile (C++)."""
import numpy as np
import keras
import tensorflow as tf

assert len(open("model.weights.h5", "rb").read()) == 3000, "model.weights.h5 already changed"
keras.utils.set_random_seed(5)
x = np.arange(32, dtype="float32").reshape(16, 2) / 32
model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(1)])
model.compile(optimizer="sgd", loss="mse")
model.fit(x, x[:, :1], batch_size=4, epochs=1, verbose=0)
model.save_weights("model.weights.h5")
with tf.io.gfile.GFile("notes.txt", "a") as fh:
    fh.write("trained\\n")
assert open("notes.txt").read() == "note\\n" * 300 + "trained\\n"
'''


def test_h5py_and_gfile_writes_to_large_files_never_change_them(tmp_path: Path) -> None:
    pytest.importorskip("tensorflow")
    pytest.importorskip("h5py")
    project = tmp_path / "project"
    project.mkdir()
    (project / "train.py").write_text(_C_LEVEL_WRITERS)
    (project / "model.weights.h5").write_bytes(os.urandom(3000))
    (project / "notes.txt").write_text("note\n" * 300)
    before = _snapshot(project)
    proc = _verify(project, "train.py", TF_REPRO_VERIFY_COPY_MAX_FILE_BYTES="1000")
    assert proc.returncode == 0, proc
    assert _snapshot(project) == before
    assert "changed your file" not in proc.stderr


_LINKED_DIRECTORY = '''\
"""Changes a directory the mirror links whole (node_modules) in every way a script can."""
import os
import shutil
from pathlib import Path

d = Path("node_modules")
assert sorted(os.listdir(d)) == ["app.log", "keep.txt", "sub"], sorted(os.listdir(d))
(d / "new.txt").write_text("new")
with open(d / "app.log", "a") as fh:
    fh.write("appended\\n")
assert (d / "app.log").read_text() == "start\\nappended\\n"
os.remove(d / "keep.txt")
os.mkdir(d / "made")
os.rename(d / "new.txt", d / "made" / "moved.txt")
fd = os.open(d / "sub" / "x.txt", os.O_WRONLY | os.O_TRUNC)
os.write(fd, b"truncated")
os.close(fd)
os.chmod(d / "app.log", 0o600)
shutil.rmtree(d / "sub")
'''


def test_writes_into_a_linked_directory_never_reach_the_original(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "node_modules" / "sub").mkdir(parents=True)
    (project / "node_modules" / "keep.txt").write_text("keep")
    (project / "node_modules" / "app.log").write_text("start\n")
    (project / "node_modules" / "sub" / "x.txt").write_text("x" * 100)
    (project / "train.py").write_text(_LINKED_DIRECTORY)
    before = _snapshot(project)
    modes = {p: p.stat().st_mode for p in project.rglob("*")}
    proc = _verify(project, "train.py", timeout=CHILD_TIMEOUT)
    assert proc.returncode == 3, proc  # both runs succeeded (each saw the original files)
    assert _snapshot(project) == before
    assert {p: p.stat().st_mode for p in project.rglob("*")} == modes


_C_LEVEL_APPEND = '''\
"""Appends to a linked file from C (libc open/write), below the Python-level guard."""
import ctypes
import os

libc = ctypes.CDLL(None, use_errno=True)
fd = libc.open(b"big.bin", os.O_WRONLY | os.O_APPEND)
assert fd >= 0, ctypes.get_errno()
libc.write(fd, b"tail", 4)
libc.close(fd)
'''


def test_a_write_the_guard_cannot_see_is_reported(tmp_path: Path) -> None:
    (tmp_path / "big.bin").write_bytes(b"b" * 2000)
    (tmp_path / "train.py").write_text(_C_LEVEL_APPEND)
    proc = _verify(tmp_path, "train.py", "--runs", "2", timeout=CHILD_TIMEOUT,
                   TF_REPRO_VERIFY_COPY_MAX_FILE_BYTES="1000")
    assert proc.returncode == 3, proc
    assert "changed your file" in proc.stderr and "big.bin" in proc.stderr


# ---------------------------------------------------------------------------
# 3. signals end the runs' process groups; leftovers are ended; paths checked first
# ---------------------------------------------------------------------------

_SPAWNS_AND_WAITS = '''\
"""Starts a background child, records both pids, then trains 'forever'."""
import os
import subprocess
import sys
import time

child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
path = os.path.join(os.environ["RELV_MARKERS"], "pids-%d" % os.getpid())
with open(path + ".tmp", "w") as fh:
    fh.write("%d %d" % (os.getpid(), child.pid))
os.rename(path + ".tmp", path)
if os.environ.get("RELV_EXIT_AT_ONCE") != "1":
    time.sleep(300)
'''


def _alive(pid: int) -> bool:
    """True if ``pid`` runs (a zombie nobody reaped yet counts as ended)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as fh:  # one process' state line, nothing else
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def _wait_until(predicate: Any, seconds: float) -> bool:
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def _recorded_pids(markers: Path) -> list[int]:
    return [int(p) for f in markers.glob("pids-*") if not f.name.endswith(".tmp") for p in f.read_text().split()]


def _end_leftovers(pids: list[int]) -> None:
    """Clean up after a failing test: end the processes it started, by id."""
    import signal

    for pid in pids:
        if _alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGHUP"])
def test_sigterm_and_sighup_end_the_run_group_and_remove_temp_dirs(tmp_path: Path, signame: str) -> None:
    import signal

    sig = getattr(signal, signame)
    markers, tmp = tmp_path / "markers", tmp_path / "tmp"
    markers.mkdir()
    tmp.mkdir()
    project = tmp_path / "project"
    project.mkdir()
    (project / "train.py").write_text(_SPAWNS_AND_WAITS)
    cmd = [sys.executable, "-m", "tf_repro_migrate.verify.cli", "train.py"]
    proc = subprocess.Popen(cmd, cwd=project, env=_env(RELV_MARKERS=str(markers), TMPDIR=str(tmp)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    pids: list[int] = []
    try:
        assert _wait_until(lambda: len(_recorded_pids(markers)) == 2, CHILD_TIMEOUT), "the run never started"
        pids = _recorded_pids(markers)
        assert list(tmp.glob("tf-repro-verify-*")), "verify's temporary directory is expected in TMPDIR"
        proc.send_signal(sig)
        _out, err = proc.communicate(timeout=CHILD_TIMEOUT)
        assert proc.returncode == 128 + sig, err
        assert _wait_until(lambda: not any(_alive(p) for p in pids), 15), "a process of the run survived"
        assert not list(tmp.glob("tf-repro-verify-*")), "temporary directory left behind"
        assert "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=CHILD_TIMEOUT)
        _end_leftovers(pids or _recorded_pids(markers))


def test_background_children_are_ended_when_the_run_ends(tmp_path: Path) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    (tmp_path / "train.py").write_text(_SPAWNS_AND_WAITS)
    pids: list[int] = []
    try:
        proc = _verify(tmp_path, "train.py", timeout=CHILD_TIMEOUT, RELV_MARKERS=str(markers),
                       RELV_EXIT_AT_ONCE="1")
        assert proc.returncode == 3, proc
        pids = _recorded_pids(markers)
        assert len(pids) == 4  # two runs, each the script and its child
        assert _wait_until(lambda: not any(_alive(p) for p in pids), 15), "a background child survived its run"
    finally:
        _end_leftovers(pids or _recorded_pids(markers))


@pytest.mark.parametrize("option, make_bad", [
    ("--json", lambda t: t / "a-directory"),
    ("--json", lambda t: t / "a-file.txt" / "report.json"),
    ("--keep-logs", lambda t: t / "a-file.txt"),
    ("--keep-logs", lambda t: t / "a-file.txt" / "logs"),
])
def test_output_paths_are_checked_before_the_first_run(tmp_path: Path, option: str, make_bad: Any) -> None:
    (tmp_path / "a-directory").mkdir()
    (tmp_path / "a-file.txt").write_text("not a directory\n")
    marker = tmp_path / "ran"
    (tmp_path / "train.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    bad = make_bad(tmp_path)
    proc = _verify(tmp_path, "train.py", option, str(bad), timeout=CHILD_TIMEOUT)
    assert proc.returncode == 2, proc
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and option in lines[0] and str(bad) in lines[0], proc.stderr
    assert not marker.exists(), "the script ran before the path was checked"


def test_output_path_check_accepts_new_files_in_new_directories(tmp_path: Path) -> None:
    from tf_repro_migrate.verify import cli

    assert cli.check_output_paths({"--json": str(tmp_path / "new" / "r.json"),
                                   "--keep-logs": str(tmp_path / "logs"), "--html": None}) is None


# ---------------------------------------------------------------------------
# 4. an unmigrated script gets the hint to run the migration first
# ---------------------------------------------------------------------------

_UNMIGRATED = {
    "ConfigProto": "import tensorflow as tf\nconfig = tf.ConfigProto(intra_op_parallelism_threads=1)\n",
    "set_session": "import tensorflow as tf\nfrom keras import backend as K\n"
                   "K.set_session(None)\n",
}


@pytest.mark.parametrize("name", sorted(_UNMIGRATED))
def test_unmigrated_script_gets_the_migration_hint(tmp_path: Path, name: str) -> None:
    pytest.importorskip("tensorflow")
    (tmp_path / "legacy_train.py").write_text(_UNMIGRATED[name])
    proc = _verify(tmp_path, "legacy_train.py")
    assert proc.returncode == 2, proc
    assert "VERDICT: SCRIPT FAILED" in proc.stdout
    assert f"has no attribute '{name}'" in proc.stdout
    assert "run `tf-repro-migrate --write legacy_train.py` first" in proc.stdout, proc.stdout


def test_a_look_alike_attribute_error_gets_no_migration_hint(tmp_path: Path) -> None:
    (tmp_path / "mylib.py").write_text("")
    (tmp_path / "train.py").write_text("import mylib\nmylib.ConfigProto()\n")
    proc = _verify(tmp_path, "train.py", timeout=CHILD_TIMEOUT)
    assert proc.returncode == 2, proc
    assert "has no attribute 'ConfigProto'" in proc.stdout
    assert "tf-repro-migrate --write" not in proc.stdout


def test_migration_hint_matches_tf1_names_of_tensorflow_and_keras_only() -> None:
    from tf_repro_migrate.verify import cli

    assert cli.migration_hint("AttributeError: module 'tensorflow' has no attribute 'set_random_seed'",
                              "t.py") is not None
    assert cli.migration_hint("module 'tensorflow.compat.v1' has no attribute 'foo'", "t.py") is None
    assert cli.migration_hint("module 'numpy' has no attribute 'ConfigProto'", "t.py") is None
