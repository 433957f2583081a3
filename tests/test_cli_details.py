"""The CLI details users meet first: pre-commit, --exclude, contradictory options, standard
input, ``verify`` in --help, the progress bar. Real runs of the command line on real files."""

from __future__ import annotations

import os
import pty
import select
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
# Python's random is seeded too, so the migration is the rename alone (no random.seed added for Keras 3).
LEGACY_SEED = "import random\nimport tensorflow as tf\nrandom.seed(1)\ntf.set_random_seed(1)\n"
MIGRATED_SEED = "import random\nimport tensorflow as tf\nrandom.seed(1)\ntf.random.set_seed(1)\n"
MANUAL_ONLY = 'import os\nos.environ["PYTHONHASHSEED"] = "0"\n'


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}


def cli(*args: object, cwd: Path | None = None, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "tf_repro_migrate", *map(str, args)], capture_output=True,
                          timeout=120, cwd=cwd, env=_env(), input=stdin)
    return subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout.decode(), proc.stderr.decode())


# -- pre-commit ----------------------------------------------------------------------------------


def _hook_command(hook_id: str) -> list[str]:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    (entry,) = [h["entry"] for h in hooks if h["id"] == hook_id]
    words = shlex.split(entry)
    assert words[0] == "tf-repro-migrate"
    return words[1:]


def test_fix_hook_does_not_block_a_commit_on_manual_findings_and_names_path_line(tmp_path: Path) -> None:
    manual = tmp_path / "env.py"
    manual.write_text(MANUAL_ONLY)
    proc = cli(*_hook_command("tf-repro-migrate"), manual, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"{manual}:2:1 TRM006 [manual] ")
    assert manual.read_text() == MANUAL_ONLY


def test_fix_hook_fails_when_it_changed_a_file_or_a_file_failed(tmp_path: Path) -> None:
    legacy, manual, broken = tmp_path / "a.py", tmp_path / "env.py", tmp_path / "broken.py"
    legacy.write_text(LEGACY_SEED)
    manual.write_text(MANUAL_ONLY)
    proc = cli(*_hook_command("tf-repro-migrate"), legacy, manual, cwd=tmp_path)
    assert proc.returncode == 1 and legacy.read_text() == MIGRATED_SEED
    assert proc.stdout.startswith(f"{legacy}:4:1 TRM001 [safe fix] ")  # what changed, by path:line
    assert f"{manual}:2:1 TRM006 [manual]" in proc.stdout
    broken.write_text("import tensorflow as tf\ntf.set_random_seed(1\n")
    proc = cli(*_hook_command("tf-repro-migrate"), legacy, broken, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"{broken}: error: does not parse as Python 3 (line 2)")


def test_check_hook_names_path_line_of_what_would_change_and_ignores_manual_findings(tmp_path: Path) -> None:
    legacy, manual = tmp_path / "a.py", tmp_path / "env.py"
    legacy.write_text(LEGACY_SEED)
    manual.write_text(MANUAL_ONLY)
    proc = cli(*_hook_command("tf-repro-migrate-check"), manual, cwd=tmp_path)
    assert proc.returncode == 0 and f"{manual}:2:1 TRM006 [manual]" in proc.stdout
    proc = cli(*_hook_command("tf-repro-migrate-check"), legacy, manual, cwd=tmp_path)
    assert proc.returncode == 1
    assert f"{legacy}:4:1 TRM001 [safe fix] " in proc.stdout
    assert legacy.read_text() == LEGACY_SEED


# -- --exclude -----------------------------------------------------------------------------------


def test_exclude_applies_to_files_named_on_the_command_line(tmp_path: Path) -> None:
    (tmp_path / "legacy").mkdir()
    (tmp_path / "legacy" / "old.py").write_text(LEGACY_SEED)
    (tmp_path / "gen_model.py").write_text(LEGACY_SEED)
    (tmp_path / "keep.py").write_text(LEGACY_SEED)
    # how pre-commit calls it: every file by its path relative to the repository root
    proc = cli("--check", "--exclude", "legacy", "--exclude", "gen_*.py", "legacy/old.py", "gen_model.py",
               "keep.py", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == ["keep.py"]
    assert proc.stderr.startswith("1 files scanned")


def test_exclude_patterns_match_paths_relative_to_the_current_directory(tmp_path: Path) -> None:
    (tmp_path / "src" / "gen").mkdir(parents=True)
    (tmp_path / "src" / "gen" / "a.py").write_text(LEGACY_SEED)
    (tmp_path / "src" / "b.py").write_text(LEGACY_SEED)
    proc = cli("--check", "--exclude", "src/gen/*", "src", cwd=tmp_path)
    assert proc.stdout.splitlines() == [os.path.join("src", "b.py")]
    proc = cli("--check", "--exclude", "src/gen", tmp_path / "src", cwd=tmp_path)  # absolute path walked
    assert proc.stdout.splitlines() == [str(tmp_path / "src" / "b.py")]


# -- contradictory options -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        (["--check", "--write"], "--check and --write contradict each other"),
        (["--interactive", "--format", "json"], "--interactive cannot produce --format json"),
        (["--interactive", "--format", "sarif"], "--interactive cannot produce --format sarif"),
        (["--interactive", "--check"], "--interactive and --check contradict each other"),
        (["--report", "out.txt"], "--report out.txt: reports are JSON or SARIF"),
        (["--stdin-filename", "x.py"], "--stdin-filename needs - (standard input) as the PATH"),
        (["--timeout-per-file", "-1"], "--timeout-per-file must be >= 0"),
    ],
)
def test_contradictory_options_are_usage_errors(tmp_path: Path, args: list[str], message: str) -> None:
    f = tmp_path / "a.py"
    f.write_text(LEGACY_SEED)
    proc = cli(*args, f, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith("usage: tf-repro-migrate")
    assert f"tf-repro-migrate: error: {message}" in proc.stderr
    assert f.read_text() == LEGACY_SEED and not (tmp_path / "out.txt").exists()


def test_report_with_an_explicit_format_may_have_any_name(tmp_path: Path) -> None:
    f = tmp_path / "a.py"
    f.write_text(LEGACY_SEED)
    proc = cli("--format", "json", "--report", tmp_path / "out.txt", f)
    assert proc.returncode == 1 and '"tool": "tf-repro-migrate"' in (tmp_path / "out.txt").read_text()


# -- standard input ------------------------------------------------------------------------------


def test_dash_reads_stdin_and_writes_the_migrated_source_to_stdout(tmp_path: Path) -> None:
    proc = cli("-", "--stdin-filename", "train.py", stdin=LEGACY_SEED.encode(), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == MIGRATED_SEED
    assert proc.stderr.startswith("train.py:4:1 TRM001 [safe fix] ")
    assert list(tmp_path.iterdir()) == []


def test_dash_keeps_bytes_and_gives_the_source_back_unchanged_on_error() -> None:
    crlf = b"# -*- coding: latin-1 -*-\r\nimport random, tensorflow as tf\r\ns = '\xe9'\r\nrandom.seed(1)\r\ntf.set_random_seed(1)\r\n"
    proc = subprocess.run([sys.executable, "-m", "tf_repro_migrate", "-"], input=crlf, capture_output=True,
                          timeout=120, env=_env())
    assert proc.returncode == 0 and proc.stdout == crlf.replace(b"set_random_seed", b"random.set_seed")
    broken = b"import tensorflow as tf\ntf.set_random_seed(1\n"
    proc = subprocess.run([sys.executable, "-m", "tf_repro_migrate", "-", "--stdin-filename", "b.py"],
                          input=broken, capture_output=True, timeout=120, env=_env())
    assert proc.returncode == 2 and proc.stdout == broken
    assert proc.stderr.decode().startswith("b.py: error: does not parse as Python 3")


def test_dash_cannot_be_combined_with_write_or_other_paths(tmp_path: Path) -> None:
    for args in (["-", "--write"], ["-", "--check"], ["-", "a.py"]):
        proc = cli(*args, stdin=b"", cwd=tmp_path)
        assert proc.returncode == 2 and "(standard input)" in proc.stderr


# -- verify and a directory named verify ---------------------------------------------------------


def test_verify_appears_in_help() -> None:
    proc = cli("--help")
    assert proc.returncode == 0
    assert "tf-repro-migrate verify SCRIPT" in proc.stdout
    assert "./verify" in proc.stdout


def test_a_directory_named_verify_can_be_migrated_as_dot_slash_verify(tmp_path: Path) -> None:
    (tmp_path / "verify").mkdir()
    (tmp_path / "verify" / "a.py").write_text(LEGACY_SEED)
    proc = cli("--write", "./verify", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "verify" / "a.py").read_text() == MIGRATED_SEED


# -- the progress bar ----------------------------------------------------------------------------


def _read_all(fd: int, proc: subprocess.Popen[bytes], timeout: float) -> bytes:
    chunks = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    return b"".join(chunks)


def test_progress_bar_stays_visible_on_a_terminal(tmp_path: Path) -> None:
    for i in range(320):
        (tmp_path / f"f{i:03d}.py").write_text(LEGACY_SEED if i % 10 == 0 else f"x = {i}\n")
    primary, secondary = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "tf_repro_migrate", "-j", "1", str(tmp_path)], env=_env(),
                            stdout=subprocess.DEVNULL, stderr=secondary, stdin=subprocess.DEVNULL)
    os.close(secondary)
    try:
        screen = _read_all(primary, proc, 120).decode()
        proc.wait(120)
    finally:
        os.close(primary)
    # stdout is not the terminal: the bar is never wiped for a result line
    assert "\r\x1b[K" not in screen
    assert "[##############################] 320/320 files, 32 changed" in screen
    assert screen.rstrip("\r\n").endswith("32 changed\x1b[K")  # the final bar is left on screen


# -- reports: SARIF locations, each fix's replacement --------------------------------------------

SCHEMA = ROOT / "tests" / "data" / "sarif-2.1.0-subset.schema.json"
TWO_FIXES = "import tensorflow as tf\nimport random\ntf.set_random_seed(1)\nx = 1\nrandom.seed(2)\n"


def _apply(old: str, replacements: list[tuple[int, int, str]]) -> str:
    lines = old.splitlines(keepends=True)
    for start, end, text in sorted(replacements, reverse=True):
        lines[start - 1 : end - 1] = [text]
    return "".join(lines)


def test_sarif_uris_are_percent_encoded_and_relative_to_a_base(tmp_path: Path) -> None:
    import json

    import jsonschema

    (tmp_path / "my dir").mkdir()
    f = tmp_path / "my dir" / "tr%ain #1.py"
    f.write_text(LEGACY_SEED)
    proc = cli("--format", "sarif", "my dir", cwd=tmp_path)
    doc = json.loads(proc.stdout)
    jsonschema.validate(doc, json.loads(SCHEMA.read_text()))
    run = doc["runs"][0]
    assert run["originalUriBaseIds"] == {"SRCROOT": {"uri": tmp_path.as_uri() + "/"}}
    (result,) = run["results"]
    location = result["locations"][0]["physicalLocation"]["artifactLocation"]
    assert location == {"uri": "my%20dir/tr%25ain%20%231.py", "uriBaseId": "SRCROOT"}


def test_json_and_sarif_carry_each_fix_replacement_text_and_range(tmp_path: Path) -> None:
    import json

    f = tmp_path / "a.py"
    f.write_text(TWO_FIXES)
    doc = json.loads(cli("--format", "json", "a.py", cwd=tmp_path).stdout)
    fixes = {x["code"]: x["fix"] for x in doc["findings"]}
    assert "TRM001" in fixes
    seed = fixes["TRM001"]["replacements"]
    assert seed == [{"start": {"line": 3, "column": 1}, "end": {"line": 4, "column": 1},
                     "text": "tf.random.set_seed(1)\n"}]
    # every fix applied alone gives a file that parses; together they make the diff's result
    new = TWO_FIXES
    for x in doc["findings"]:
        if x["fix"] is not None:
            alone = _apply(TWO_FIXES, [(r["start"]["line"], r["end"]["line"], r["text"])
                                       for r in x["fix"]["replacements"]])
            compile(alone, "a.py", "exec")
    sarif = json.loads(cli("--format", "sarif", "a.py", cwd=tmp_path).stdout)
    by_rule = {r["ruleId"]: r for r in sarif["runs"][0]["results"]}
    (change,) = by_rule["TRM001"]["fixes"][0]["artifactChanges"]
    assert change["artifactLocation"] == {"uri": "a.py", "uriBaseId": "SRCROOT"}
    assert change["replacements"] == [{"deletedRegion": {"startLine": 3, "startColumn": 1, "endLine": 4,
                                                         "endColumn": 1},
                                       "insertedContent": {"text": "tf.random.set_seed(1)\n"}}]
    assert f.read_text() == new
