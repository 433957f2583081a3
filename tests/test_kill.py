"""``--write`` killed with SIGKILL leaves every file either old or new, never half-written.

A tree of a few hundred files (copies of the fixture inputs, most of which need
changes) is migrated by ``python -m tf_repro_migrate --write`` in a subprocess, killed
(with its workers: the whole process group) at several points of the run. After each
kill every file must be exactly its old or exactly its new content (the new content is
what the engine produces in-process); the only other files allowed are the temporary
files of ``fileio.write_atomic`` (``.<name>.<random>.tf-repro-migrate.tmp``). A next
run must succeed, finish the job and ignore those temporary files.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tf_repro_migrate.context import Options
from tf_repro_migrate.engine import migrate_source

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).parent / "fixtures"
COPIES = 16  # per fixture input: about two hundred files in all
TEMP_NAME = re.compile(r"^\..+\.py\..+\.tf-repro-migrate\.tmp$")
PADDING = "".join(f"\n\ndef helper_{i}(values):\n    return [v * {i} for v in values]\n" for i in range(20))


def _make_tree(root: Path) -> dict[Path, tuple[str, str]]:
    """Write the tree; returns path -> (old text, expected new text)."""
    expected: dict[Path, tuple[str, str]] = {}
    for source in sorted(FIXTURES.glob("*.in.py")):
        text = source.read_text(encoding="utf-8")
        for copy in range(COPIES):
            old = f"{text}{PADDING}\nCOPY = {copy}\n"
            path = root / f"pkg{copy:02d}" / source.name.replace(".in.py", ".py")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(old, encoding="utf-8")
            expected[path.relative_to(root)] = (old, migrate_source(old, Options()).new)
    return expected


def _start(root: Path, jobs: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tf_repro_migrate", "--write", "-q", "-j", str(jobs), str(root)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,  # own group: kill workers too
    )


def _check_tree(root: Path, expected: dict[Path, tuple[str, str]]) -> tuple[int, list[Path]]:
    """Every file old or new; returns (how many are new, temporary files found)."""
    new_count = 0
    temps: list[Path] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root)
        if rel not in expected:
            assert TEMP_NAME.match(path.name), f"unexpected file left behind: {rel}"
            temps.append(path)
            continue
        content = path.read_text(encoding="utf-8")
        old, new = expected[rel]
        assert content in (old, new), f"{rel} is neither the old nor the new content ({len(content)} chars)"
        new_count += content == new and new != old
    return new_count, temps


def test_sigkill_leaves_each_file_old_or_new(tmp_path: Path) -> None:
    pristine = tmp_path / "pristine"
    expected = _make_tree(pristine)
    changing = sum(old != new for old, new in expected.values())
    assert changing > len(expected) // 2, "the tree should be mostly files that need changes"

    # How long an uninterrupted run takes, so the kills land at fractions of it.
    full = tmp_path / "full"
    shutil.copytree(pristine, full)
    start = time.perf_counter()
    proc = _start(full, jobs=2)
    _, err = proc.communicate(timeout=600)
    duration = time.perf_counter() - start
    assert proc.returncode in (0, 1), err.decode()
    assert _check_tree(full, expected) == (changing, [])

    partial_runs = 0
    for i, (fraction, jobs) in enumerate([(0.2, 2), (0.45, 1), (0.6, 2), (0.8, 1)]):
        root = tmp_path / f"kill{i}"
        shutil.copytree(pristine, root)
        # A leftover from an earlier killed run: must be ignored, not migrated or listed.
        leftover = root / "pkg00" / ".keras_faq.py.k1ll3d.tf-repro-migrate.tmp"
        leftover.write_text("import tensorflow as tf\ntf.set_random_seed(1)\n", encoding="utf-8")
        proc = _start(root, jobs)
        time.sleep(duration * fraction)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass  # already finished
        proc.wait(timeout=60)
        new_count, temps = _check_tree(root, expected)
        assert leftover in temps
        partial_runs += 0 < new_count < changing

        # The next run finishes the job and leaves the temporary files alone.
        rerun = subprocess.run([sys.executable, "-m", "tf_repro_migrate", "--write", "-j", str(jobs), str(root)],
                               capture_output=True, text=True, timeout=600)
        assert rerun.returncode in (0, 1), rerun.stderr
        assert "tf-repro-migrate.tmp" not in rerun.stdout + rerun.stderr
        assert f"{len(expected)} files scanned" in rerun.stdout
        assert _check_tree(root, expected)[0] == changing
        assert leftover.read_text(encoding="utf-8") == "import tensorflow as tf\ntf.set_random_seed(1)\n"
    assert partial_runs, "no kill landed in the middle of a run: the test did not test anything"
