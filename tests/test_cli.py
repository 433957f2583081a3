"""The command line: diffs, findings, summary, exit codes, writing, and bad input."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tf_repro_migrate.cli import main
from tf_repro_migrate.pipeline import POOL_THRESHOLD, screen

ROOT = Path(__file__).resolve().parent.parent
LEGACY = ROOT / "fixtures" / "legacy_project"

LEGACY_SEED = "import tensorflow as tf\ntf.set_random_seed(1)\n"
# Keras 3 draws its initializer and dropout seeds from Python's random: it is seeded next to the TF seed.
MIGRATED_SEED = "import tensorflow as tf\nimport random\n\ntf.random.set_seed(1)\nrandom.seed(1)\n"


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def summary(out: str) -> str:
    return out.strip().splitlines()[-1]


def test_diff_mode_prints_diff_findings_and_summary_and_writes_nothing(tmp_path, capsys):
    f = tmp_path / "a.py"
    f.write_text(LEGACY_SEED)
    code, out, _ = run_cli(capsys, tmp_path)
    assert code == 1
    assert f"--- a/{f}" in out and f"+++ b/{f}" in out
    assert "-tf.set_random_seed(1)" in out and "+tf.random.set_seed(1)" in out
    assert f"{f}:2:1 TRM001 [safe fix]" in out
    assert summary(out) == ("1 files scanned, 0 skipped by the pre-filter, 1 would change, "
                            "0 unsafe fixes held back, 0 manual findings, 0 failed")
    assert f.read_text() == LEGACY_SEED


def test_write_applies_and_second_run_is_clean(tmp_path, capsys):
    f = tmp_path / "a.py"
    f.write_text(LEGACY_SEED)
    code, out, _ = run_cli(capsys, "--write", tmp_path)
    assert code == 0 and "1 changed" in summary(out)
    assert f.read_text() == MIGRATED_SEED
    code, out, _ = run_cli(capsys, tmp_path)
    assert code == 0 and "0 would change" in summary(out)


def test_check_lists_files_and_exit_codes(tmp_path, capsys):
    (tmp_path / "a.py").write_text(LEGACY_SEED)
    (tmp_path / "b.py").write_text("print('hello')\n")
    (tmp_path / "c.py").write_text("import os\nos.environ['PYTHONHASHSEED'] = '0'\n")
    code, out, err = run_cli(capsys, "--check", tmp_path)
    assert code == 1
    assert out == f"{tmp_path / 'a.py'}\n"
    assert "1 would change" in err
    (tmp_path / "a.py").write_text(MIGRATED_SEED)
    code, out, _ = run_cli(capsys, "--check", tmp_path)
    assert code == 0 and out == ""


def test_manual_findings_alone_exit_1_outside_check(tmp_path, capsys):
    (tmp_path / "c.py").write_text("import os\nos.environ['PYTHONHASHSEED'] = '0'\n")
    code, out, _ = run_cli(capsys, "--write", tmp_path)
    assert code == 1 and "1 manual findings" in summary(out)


def test_unsafe_fixes_held_back_are_counted_and_applied_on_request(tmp_path, capsys):
    f = tmp_path / "a.py"
    source = "import os\nimport tensorflow as tf\nos.environ['CUDA_VISIBLE_DEVICES'] = '-1'\n"
    f.write_text(source)
    code, out, _ = run_cli(capsys, "--write", tmp_path)
    assert code == 1 and "1 unsafe fixes held back" in summary(out) and "0 changed" in summary(out)
    assert f.read_text() == source
    code, out, _ = run_cli(capsys, "--write", "--unsafe-fixes", tmp_path)
    assert code == 0 and "1 changed" in summary(out)
    assert "CUDA_VISIBLE_DEVICES" not in f.read_text()


def test_only_and_skip_select_rules(tmp_path, capsys):
    f = tmp_path / "a.py"
    f.write_text("import os\nimport tensorflow as tf\nos.environ['PYTHONHASHSEED'] = '0'\ntf.set_random_seed(1)\n")
    _, out, _ = run_cli(capsys, "--only", "TRM006", tmp_path)
    assert "TRM006" in out and "TRM001" not in out
    _, out, _ = run_cli(capsys, "--skip", "TRM001,TRM006", tmp_path)
    # with TRM001 skipped the TF1 seed stays, and TRM009 lists it as a name that fails on TF2
    assert "TRM001" not in out and "TRM006" not in out and "TRM009" in out
    _, out, _ = run_cli(capsys, "--skip", "TRM001,TRM006,TRM009", tmp_path)
    assert "TRM" not in out.replace("tf-repro-migrate", "")
    code, _, err = run_cli(capsys, "--only", "XYZ9", tmp_path)
    assert code == 2 and "unknown rule code" in err


def test_list_rules(capsys):
    code, out, _ = run_cli(capsys, "--list-rules")
    assert code == 0
    lines = out.splitlines()
    listed = [line.split()[0] for line in lines]
    assert listed == [f"TRM{i:03d}" for i in range(1, len(listed) + 1)] and len(listed) >= 12


def test_bad_usage_exits_2(capsys):
    assert run_cli(capsys)[0] == 2
    assert run_cli(capsys, "--no-such-flag", ".")[0] == 2


def test_default_excludes_and_exclude_glob(tmp_path, capsys):
    for d in (".git", "build", "myenv", "node_modules", "src"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "x.py").write_text(LEGACY_SEED)
    (tmp_path / "myenv" / "pyvenv.cfg").write_text("home = /usr\n")
    (tmp_path / "src" / "gen_x.py").write_text(LEGACY_SEED)
    _, out, _ = run_cli(capsys, "--exclude", "gen_*", tmp_path)
    assert "2 files scanned" not in out
    assert summary(out).startswith("1 files scanned")
    assert str(tmp_path / "src" / "x.py") in out


def test_output_is_sorted_and_identical_with_workers(tmp_path, capsys):
    # Enough files that pass the parent's pre-filter for the pool to be used (>= 16), mixed
    # with files it skips itself and with bad files it leaves to the workers to report.
    for i in range(60):
        (tmp_path / f"m{i:02d}.py").write_text(LEGACY_SEED if i % 3 == 0 else "x = 1\n")
    (tmp_path / "m30a.py").write_bytes(b"# -*- coding: latin-9000 -*-\nx = 1\n")
    (tmp_path / "m30b.py").write_bytes(b"import tensorflow as tf\nprint 'seeded'\ntf.set_random_seed(1)\n")
    assert sum(screen(p) is None for p in tmp_path.iterdir()) >= POOL_THRESHOLD
    code_1, serial, err_1 = run_cli(capsys, "-j", "1", tmp_path)
    code_2, parallel, err_2 = run_cli(capsys, "-j", "2", tmp_path)
    assert (code_1, serial, err_1) == (code_2, parallel, err_2)
    assert code_1 == 2 and "m30a.py" in err_1 and "m30b.py" in err_1
    paths = [line.split(":")[0] for line in serial.splitlines() if "TRM001" in line]
    assert paths == sorted(paths) and len(paths) == 20


# -- robustness -------------------------------------------------------------------------------------

BAD_INPUTS = {
    "py2.py": (b"import tensorflow as tf\nprint 'seeded'\ntf.set_random_seed(1)\n", "does not parse"),
    "template.py": (b"import tensorflow as tf\nclass Agent_{id}:\n    tf.set_random_seed({id})\n", "does not parse"),
    "indent.py": (b"import numpy as np\n    np.random.seed(0)\n", "does not parse"),
    "latin.py": (b"import tensorflow as tf\nx = '\xff\xfe'\ntf.set_random_seed(1)\n", "not valid UTF-8 (no coding cookie)"),
    "binary.py": (b"\x00\x01tf.set_random_seed\x00", "binary file"),
}


def test_bad_files_are_reported_one_line_each_and_left_untouched(tmp_path, capsys):
    good = tmp_path / "good.py"
    good.write_text(LEGACY_SEED)
    for name, (data, _) in BAD_INPUTS.items():
        (tmp_path / name).write_bytes(data)
    code, out, err = run_cli(capsys, "--write", tmp_path)
    assert code == 2
    for name, (data, reason) in BAD_INPUTS.items():
        lines = [line for line in err.splitlines() if line.startswith(f"{tmp_path / name}: error:")]
        assert len(lines) == 1 and reason in lines[0], err
        assert (tmp_path / name).read_bytes() == data
    assert good.read_text() == MIGRATED_SEED
    assert "5 failed" in summary(out)


def test_empty_file_is_skipped_not_an_error(tmp_path, capsys):
    (tmp_path / "__init__.py").write_bytes(b"")
    code, out, _ = run_cli(capsys, tmp_path)
    assert code == 0 and "1 skipped by the pre-filter" in summary(out)


def test_missing_path_is_an_error(tmp_path, capsys):
    code, _, err = run_cli(capsys, tmp_path / "nope.py")
    assert code == 2 and "no such file or directory" in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file_is_an_error(tmp_path, capsys):
    f = tmp_path / "secret.py"
    f.write_text(LEGACY_SEED)
    f.chmod(0)
    code, _, err = run_cli(capsys, tmp_path)
    assert code == 2 and "permission denied" in err


def test_symlink_loop_is_an_error_and_loops_in_dirs_are_not_followed(tmp_path, capsys):
    (tmp_path / "loop.py").symlink_to(tmp_path / "loop.py")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "back").symlink_to(tmp_path, target_is_directory=True)
    code, _, err = run_cli(capsys, tmp_path / "loop.py")
    assert code == 2 and "symlink loop" in err
    code, out, _ = run_cli(capsys, tmp_path)
    assert code == 0


def test_encoding_cookie_bom_crlf_and_mode_survive(tmp_path, capsys):
    f = tmp_path / "a.py"
    body = "# -*- coding: latin-1 -*-\r\nimport tensorflow as tf\r\nname = 'caf\xe9'\r\ntf.set_random_seed(1)  # seed\r\n"
    f.write_bytes(body.encode("latin-1"))
    f.chmod(0o754)
    g = tmp_path / "b.py"
    g.write_bytes(b"\xef\xbb\xbfimport tensorflow as tf\ntf.set_random_seed(2)\n")
    code, _, _ = run_cli(capsys, "--write", tmp_path)
    assert code == 0
    # The lines added (random.seed after the migrated TF seed, its import) take the file's line ends.
    expected = ("# -*- coding: latin-1 -*-\r\nimport tensorflow as tf\r\nimport random\r\n\r\nname = 'caf\xe9'\r\n"
                "tf.random.set_seed(1)  # seed\r\nrandom.seed(1)\r\n").encode("latin-1")
    assert f.read_bytes() == expected
    assert stat.S_IMODE(f.stat().st_mode) == 0o754
    assert g.read_bytes() == b"\xef\xbb\xbfimport tensorflow as tf\nimport random\n\ntf.random.set_seed(2)\nrandom.seed(2)\n"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_file_without_changes_is_never_rewritten(tmp_path, capsys):
    f = tmp_path / "a.py"
    f.write_text("import tensorflow as tf\ntf.random.set_seed(1)\n")
    os.utime(f, (1_000_000, 1_000_000))
    run_cli(capsys, "--write", tmp_path)
    assert f.stat().st_mtime == 1_000_000


def test_legacy_project_migrates_and_is_idempotent(tmp_path, capsys):
    project = tmp_path / "legacy_project"
    shutil.copytree(LEGACY, project)
    code, out, _ = run_cli(capsys, "--write", project)
    assert code == 1  # manual findings remain (PYTHONHASHSEED, graph-mode evaluation)
    assert "4 changed" in summary(out) and "0 failed" in summary(out)
    snapshot = {p.name: p.read_bytes() for p in project.glob("*.py")}
    code, out, _ = run_cli(capsys, "--write", project)
    assert "0 changed" in summary(out)
    assert snapshot == {p.name: p.read_bytes() for p in project.glob("*.py")}


def test_migrated_legacy_project_trains_under_tf2(tmp_path, capsys):
    pytest.importorskip("tensorflow")
    project = tmp_path / "legacy_project"
    shutil.copytree(LEGACY, project)
    run_cli(capsys, "--write", project)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONHASHSEED="0")
    for script in ("train.py", "finetune.py"):
        proc = subprocess.run([sys.executable, script, *(["--epochs", "1"] if script == "train.py" else [])],
                              cwd=project, env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]


# -- entry points -------------------------------------------------------------------------------------

def test_console_script_and_module_entry_points(tmp_path):
    f = tmp_path / "a.py"
    f.write_text(LEGACY_SEED)
    exe = Path(sys.executable).with_name("tf-repro-migrate")
    for cmd in ([str(exe)], [sys.executable, "-m", "tf_repro_migrate"]):
        proc = subprocess.run([*cmd, "--check", str(f)], capture_output=True, text=True)
        assert proc.returncode == 1 and proc.stdout == f"{f}\n"


def test_migration_never_imports_tensorflow(tmp_path):
    f = tmp_path / "a.py"
    f.write_text(LEGACY_SEED)
    code = ("import sys; from tf_repro_migrate.cli import main; main(['-q', %r]); "
            "print('tensorflow' in sys.modules or 'keras' in sys.modules)" % str(f))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.stdout.strip().splitlines()[-1] == "False"
