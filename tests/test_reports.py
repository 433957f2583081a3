"""JSON and SARIF reports, pre-commit hooks, --interactive and the progress bar."""

from __future__ import annotations

import io
import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from tf_repro_migrate.cli import main
from tf_repro_migrate.progress import Progress

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-2.1.0-subset.schema.json").read_text())
NOTEBOOK = Path(__file__).parent / "fixtures" / "notebooks" / "colab_tf1.ipynb"

SOURCE = (
    "import os\n"
    "import tensorflow as tf\n"
    "os.environ['PYTHONHASHSEED'] = '0'\n"
    "os.environ['CUDA_VISIBLE_DEVICES'] = ''\n"
    "tf.set_random_seed(1)\n"
)


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "a.py").write_text(SOURCE)
    (tmp_path / "bad.py").write_text("import tensorflow as tf\nprint 'x'\ntf.set_random_seed(1)\n")
    shutil.copy(NOTEBOOK, tmp_path / "nb.ipynb")
    return tmp_path


def test_json_report_lists_every_finding_field_by_field(tree, capsys):
    code = main(["--format", "json", str(tree)])
    out, err = capsys.readouterr()
    assert code == 2
    doc = json.loads(out)
    assert doc["tool"] == "tf-repro-migrate" and doc["mode"] == "diff"
    a = [f for f in doc["findings"] if f["file"] == str(tree / "a.py")]
    assert a == [
        {"file": str(tree / "a.py"), "cell": None, "line": 3, "column": 1, "code": "TRM006", "rule": "pythonhashseed",
         "safety": "manual", "message": a[0]["message"], "applied": False, "written": False, "fix": None},
        {"file": str(tree / "a.py"), "cell": None, "line": 4, "column": 1, "code": "TRM007",
         "rule": "cuda-visible-devices", "safety": "unsafe", "message": a[1]["message"], "applied": False,
         "written": False,  # the held-back fix, as it would apply: line 4 removed
         "fix": {"replacements": [{"start": {"line": 4, "column": 1}, "end": {"line": 5, "column": 1}, "text": ""}]}},
        {"file": str(tree / "a.py"), "cell": None, "line": 5, "column": 1, "code": "TRM001", "rule": "tf-seed",
         "safety": "safe", "message": "tf.set_random_seed -> tf.random.set_seed (the TF2 global seed), and "
         "random.seed(1) after it: Keras 3 draws its initializer, dropout and SeedGenerator seeds from Python's "
         "random, and this scope does not seed it", "applied": True, "written": False,
         "fix": {"replacements": [  # `import random` after the import block, the rename and the Python seed
             {"start": {"line": 3, "column": 1}, "end": {"line": 3, "column": 1}, "text": "import random\n\n"},
             {"start": {"line": 5, "column": 1}, "end": {"line": 6, "column": 1},
              "text": "tf.random.set_seed(1)\nrandom.seed(1)\n"}]}},
    ]
    nb = [f for f in doc["findings"] if f["file"] == str(tree / "nb.ipynb")]
    assert {(f["code"], f["cell"], f["line"]) for f in nb} == {("TRM002", 4, 2), ("TRM003", 5, 1), ("TRM004", 5, 3)}
    assert doc["errors"] == [{"file": str(tree / "bad.py"), "cell": None,
                              "message": "does not parse as Python 3 (line 2): Missing parentheses in call to "
                                         "'print'. Did you mean print(...)?"}]
    assert doc["changed_files"] == [str(tree / "a.py"), str(tree / "nb.ipynb")]
    assert doc["summary"] == {"scanned": 3, "skipped": 0, "changed": 2, "held_back": 1, "manual": 1, "failed": 1}
    assert "3 files scanned" in err


def test_json_report_marks_written_fixes(tree, capsys):
    (tree / "bad.py").unlink()
    main(["--write", "--format", "json", str(tree / "a.py")])
    doc = json.loads(capsys.readouterr()[0])
    seed = [f for f in doc["findings"] if f["code"] == "TRM001"][0]
    assert seed["applied"] and seed["written"]
    assert doc["mode"] == "write"


def test_sarif_report_validates_against_the_schema(tree, capsys):
    main(["--format", "sarif", str(tree)])
    doc = json.loads(capsys.readouterr()[0])
    jsonschema.validate(doc, SCHEMA, format_checker=jsonschema.FormatChecker())
    run = doc["runs"][0]
    assert doc["version"] == "2.1.0"
    ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert ids == [f"TRM{i:03d}" for i in range(1, len(ids) + 1)] and len(ids) >= 12
    by_rule = {r["ruleId"]: r for r in run["results"]}
    manual = by_rule["TRM006"]
    assert manual["level"] == "warning"
    assert manual["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": (tree / "a.py").as_uri()}, "region": {"startLine": 3, "startColumn": 1}}
    assert run["tool"]["driver"]["rules"][manual["ruleIndex"]]["id"] == "TRM006"
    assert by_rule["TRM001"]["level"] == "note"
    nb = by_rule["TRM002"]
    assert nb["message"]["text"].startswith("cell 4, line 2: ")
    assert "region" not in nb["locations"][0]["physicalLocation"]
    assert run["invocations"][0]["executionSuccessful"] is False
    assert "bad.py" in run["invocations"][0]["toolExecutionNotifications"][0]["message"]["text"]


def test_schema_rejects_a_broken_log():
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"version": "2.1.0", "runs": [{"tool": {"driver": {}}}]}, SCHEMA)


def test_report_file_while_terminal_shows_diffs(tree, capsys):
    target = tree / "out.sarif"
    main(["--report", str(target), str(tree / "a.py")])
    out, _ = capsys.readouterr()
    assert "+tf.random.set_seed(1)" in out
    jsonschema.validate(json.loads(target.read_text()), SCHEMA)
    main(["--report", str(tree / "out.json"), str(tree / "a.py")])
    capsys.readouterr()
    assert json.loads((tree / "out.json").read_text())["summary"]["scanned"] == 1


# -- pre-commit ----------------------------------------------------------------------------------------

def hooks() -> dict[str, dict]:
    return {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}


def run_hook(hook: dict, files: list[Path]) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name(shlex.split(hook["entry"])[0])
    cmd = [str(exe), *shlex.split(hook["entry"])[1:], *map(str, files)]
    return subprocess.run(cmd, capture_output=True, text=True)


def test_pre_commit_hooks_are_declared_for_python_notebooks_and_docs():
    defined = hooks()
    assert set(defined) == {"tf-repro-migrate-check", "tf-repro-migrate"}
    for hook in defined.values():
        assert hook["language"] == "python" and set(hook["types_or"]) == {"python", "jupyter", "markdown", "rst"}


def test_check_hook_fails_then_fix_hook_fixes(tmp_path):
    f = tmp_path / "a.py"
    f.write_text("import tensorflow as tf\ntf.set_random_seed(1)\n")
    nb = tmp_path / "nb.ipynb"
    shutil.copy(NOTEBOOK, nb)
    check, fix = hooks()["tf-repro-migrate-check"], hooks()["tf-repro-migrate"]
    proc = run_hook(check, [f, nb])
    # every line names path:line (--pre-commit); both files need changes
    assert proc.returncode == 1
    assert {line.split(":", 1)[0] for line in proc.stdout.splitlines()} == {str(f), str(nb)}
    assert proc.stdout.startswith(f"{f}:2:1 TRM001 [safe fix] ")
    proc = run_hook(fix, [f, nb])
    assert proc.returncode == 1, proc.stdout + proc.stderr  # it changed files: the commit waits for a look
    assert f.read_text() == "import tensorflow as tf\nimport random\n\ntf.random.set_seed(1)\nrandom.seed(1)\n"
    assert run_hook(fix, [f, nb]).returncode == 0
    assert run_hook(check, [f, nb]).returncode == 0


# -- interactive --------------------------------------------------------------------------------------------

TWO_FIXES = "import tensorflow as tf\ntf.set_random_seed(1)\nx = 1\ntf.set_random_seed(2)\n"


def interactive(monkeypatch, capsys, answers: str, *paths: Path) -> tuple[int, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(answers))
    code = main(["--interactive", *map(str, paths)])
    return code, capsys.readouterr()[0]


def test_interactive_applies_only_the_accepted_change(tmp_path, monkeypatch, capsys):
    f = tmp_path / "a.py"
    f.write_text(TWO_FIXES)
    code, out = interactive(monkeypatch, capsys, "n\ny\n", f)
    assert out.count("Apply this change?") == 2
    assert "-tf.set_random_seed(1)" in out and "+tf.random.set_seed(2)\n+random.seed(2)\n" in out
    # The accepted change brings its random.seed and the import; the declined one is left as it was.
    assert f.read_text() == ("import tensorflow as tf\nimport random\n\n"
                             "tf.set_random_seed(1)\nx = 1\ntf.random.set_seed(2)\nrandom.seed(2)\n")


def test_interactive_all_and_quit(tmp_path, monkeypatch, capsys):
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text(TWO_FIXES)
    b.write_text(TWO_FIXES)
    code, out = interactive(monkeypatch, capsys, "a\n", a, b)
    assert code == 0 and out.count("Apply this change?") == 1
    assert "set_random_seed(" not in a.read_text().replace("random.set_seed", "")
    assert b.read_text() == a.read_text()
    b.write_text(TWO_FIXES)
    code, out = interactive(monkeypatch, capsys, "q\n", b)
    assert b.read_text() == TWO_FIXES


def test_interactive_end_of_input_writes_nothing(tmp_path, monkeypatch, capsys):
    f = tmp_path / "a.py"
    f.write_text(TWO_FIXES)
    interactive(monkeypatch, capsys, "", f)
    assert f.read_text() == TWO_FIXES


# -- progress -----------------------------------------------------------------------------------------------

def test_progress_bar_draws_on_a_terminal_for_big_trees_only():
    stream = io.StringIO()
    bar = Progress(stream, total=500, enabled=True)
    for i in range(500):
        bar.update(changed=i % 10 == 0)
    bar.close()
    assert "500/500 files, 50 changed" in stream.getvalue()
    quiet = io.StringIO()
    small = Progress(quiet, total=20, enabled=True)
    small.update(True)
    small.close()
    piped = io.StringIO()
    big = Progress(piped, total=500, enabled=False)
    big.update(True)
    assert quiet.getvalue() == "" and piped.getvalue() == ""


def test_no_progress_output_when_piped(tmp_path):
    for i in range(320):
        (tmp_path / f"m{i}.py").write_text("x = 1\n")
    proc = subprocess.run([sys.executable, "-m", "tf_repro_migrate", str(tmp_path)], capture_output=True, text=True)
    assert proc.stderr == "" and "\r" not in proc.stdout
