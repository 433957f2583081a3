"""Notebooks: one program in cell order, IPython syntax masked, JSON byte-identical outside sources."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tf_repro_migrate.cli import main
from tf_repro_migrate.context import Options
from tf_repro_migrate.notebook import mask, migrate_notebook, read_cells, unmask

NOTEBOOKS = Path(__file__).parent / "fixtures" / "notebooks"


def outside_sources(text: str) -> list[str]:
    """The JSON text with every code cell's source span cut out."""
    pieces, pos = [], 0
    for cell in read_cells(text):
        pieces.append(text[pos : cell.start])
        pos = cell.end
    pieces.append(text[pos:])
    return pieces


def sources(text: str) -> dict[int, str]:
    return {c.index: c.text for c in read_cells(text)}


@pytest.fixture
def colab(tmp_path):
    path = tmp_path / "colab_tf1.ipynb"
    shutil.copy(NOTEBOOKS / "colab_tf1.ipynb", path)
    return path


def test_cells_form_one_program_import_in_one_cell_seed_in_another(colab):
    text = colab.read_text(encoding="utf-8")
    result = migrate_notebook(text, Options())
    new = sources(result.new_json)
    assert new[4] == "SEED = 42\nkeras.utils.set_random_seed(SEED)  # reproducibility"
    assert new[5] == ("for gpu in tf.config.list_physical_devices('GPU'):\n"
                      "    tf.config.experimental.set_memory_growth(gpu, True)")
    assert "from keras import backend as K" not in new[3] and "import random as rn" not in new[3]
    assert "import tensorflow as tf" in new[3]
    assert new[1].startswith("import keras\n")
    finding = {f.code: f for f in result.findings}["TRM002"]
    assert (finding.cell, finding.line) == (4, 2)


def test_magics_shell_lines_and_colab_forms_survive_with_their_indentation(colab):
    result = migrate_notebook(colab.read_text(encoding="utf-8"), Options())
    new = sources(result.new_json)
    assert "try:\n    %tensorflow_version 1.x\nexcept Exception:\n    pass" in new[1]
    assert new[3].startswith('#@title Setup { display-mode: "form" }\nflag = "No"  #@param ["Yes", "No"]\n'
                             'if flag == "Yes":\n    !pip install somepkg\n')
    assert new[3].endswith("%matplotlib inline")
    assert new[6] == "print(tf.__version__)\nnp.random.rand(3)?"
    assert new[7] == "%%bash\necho tf.set_random_seed"


def test_only_changed_sources_change_and_the_rest_is_byte_identical(colab):
    text = colab.read_text(encoding="utf-8")
    result = migrate_notebook(text, Options())
    assert outside_sources(result.new_json) == outside_sources(text)
    old_nb, new_nb = json.loads(text), json.loads(result.new_json)
    for old_cell, new_cell in zip(old_nb["cells"], new_nb["cells"]):
        assert list(old_cell) == list(new_cell)
        assert {k: v for k, v in old_cell.items() if k != "source"} == {
            k: v for k, v in new_cell.items() if k != "source"}
        assert all(line.endswith("\n") for line in new_cell["source"][:-1])
    assert result.new_json.endswith("}\n")
    assert len(text) > 1_000_000  # the large output is carried through untouched


def test_write_then_second_run_changes_nothing(colab, capsys):
    assert main(["--write", str(colab)]) == 0
    written = colab.read_bytes()
    assert main(["--check", str(colab)]) == 0
    assert colab.read_bytes() == written
    capsys.readouterr()


def test_findings_and_diffs_name_the_cell(colab, capsys):
    code = main([str(colab)])
    out, _ = capsys.readouterr()
    assert code == 1
    assert f"--- a/{colab}:cell 4" in out
    assert f"{colab}:cell 4:line 2:col 1 TRM002" in out


def test_unparseable_cell_is_reported_and_the_others_are_migrated(tmp_path, capsys):
    path = tmp_path / "broken_cell.ipynb"
    shutil.copy(NOTEBOOKS / "broken_cell.ipynb", path)
    code = main(["--write", str(path)])
    _, err = capsys.readouterr()
    assert code == 2
    assert f"{path}:cell 2: error: does not parse as Python 3" in err
    new = sources(path.read_text(encoding="utf-8"))
    # Python's random is seeded next to the migrated TF seed (Keras 3 draws its seeds from it); the
    # import joins the cell of imports, which still ends without a line end or a blank line.
    assert new == {1: "import tensorflow as tf\nimport random", 2: "print 'seeding'",
                   3: "tf.random.set_seed(7)\nrandom.seed(7)"}


@pytest.mark.parametrize("ending", ["", "\n", "\n\n"])
def test_an_import_added_to_a_cell_of_imports_adds_no_blank_line_at_its_end(ending):
    # The blank line the engine puts after new imports belongs to the code that follows them,
    # which is in the next cell here: the cell keeps the blank lines it ended with, no more.
    text = notebook("import tensorflow as tf" + ending, "tf.set_random_seed(3)\n")
    new = sources(migrate_notebook(text, Options()).new_json)
    assert new == {1: "import tensorflow as tf\nimport random" + ending,
                   2: "tf.random.set_seed(3)\nrandom.seed(3)\n"}


@pytest.mark.parametrize(
    "name, reason",
    [
        ("invalid.ipynb", "invalid JSON"),
        ("nbformat3.ipynb", "nbformat 3 is not supported"),
        ("empty.ipynb", "empty notebook"),
    ],
)
def test_bad_notebooks_are_errors_and_untouched(tmp_path, capsys, name, reason):
    path = tmp_path / name
    shutil.copy(NOTEBOOKS / name, path)
    before = path.read_bytes()
    assert main(["--write", str(path)]) == 2
    _, err = capsys.readouterr()
    assert err.startswith(f"{path}: error: {reason}")
    assert path.read_bytes() == before


def test_directories_pick_up_notebooks(tmp_path, capsys):
    shutil.copy(NOTEBOOKS / "colab_tf1.ipynb", tmp_path / "a.ipynb")
    (tmp_path / "b.py").write_text("x = 1\n")
    main(["--check", str(tmp_path)])
    out, err = capsys.readouterr()
    assert out == f"{tmp_path / 'a.ipynb'}\n" and err.startswith("2 files scanned")


def test_single_string_source_keeps_its_form(tmp_path):
    nb = {"cells": [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                     "source": "import tensorflow as tf\ntf.set_random_seed(1)\n"}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    text = json.dumps(nb, indent=2)
    result = migrate_notebook(text, Options())
    assert json.loads(result.new_json)["cells"][0]["source"] == (
        "import tensorflow as tf\nimport random\n\ntf.random.set_seed(1)\nrandom.seed(1)\n")
    assert outside_sources(result.new_json) == outside_sources(text)


@pytest.mark.parametrize(
    "line",
    ["%matplotlib inline", "    %tensorflow_version 1.x", "!pip install x", "    !nvidia-smi", "files = !ls",
     "tf.set_random_seed?", "%%time"],
)
def test_ipython_lines_are_masked_and_restored(line):
    magics: list[str] = []
    masked = mask(f"if x:\n    pass\n{line}\n", magics) if not line.startswith("%%") else None
    if masked is None:
        assert mask(f"{line}\nx = 1\n", []) is None
        return
    assert line not in masked
    assert unmask(masked, magics) == f"if x:\n    pass\n{line}\n"


def test_modulo_continuation_and_comparisons_are_not_masked():
    source = "y = (a\n     % b)\nz = (c\n     != d)\n"
    assert mask(source, []) == source


# -- IPython syntax that is valid but easy to mis-mask (PATTERNS.md 31) ----------------------------


def notebook(*cells: str) -> str:
    """A real nbformat-4 notebook whose code cells hold ``cells`` (sources as lists of lines)."""
    nb = {"cells": [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                     "source": source.splitlines(keepends=True)} for source in cells],
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
          "nbformat": 4, "nbformat_minor": 5}
    return json.dumps(nb, indent=1) + "\n"


def test_shell_escape_with_a_space_after_the_bang_is_masked():
    text = notebook(
        "! pip install tensorflow==2.15\nif True:\n    ! nvidia-smi\n",
        "import tensorflow as tf\ntf.set_random_seed(1)\n",
    )
    result = migrate_notebook(text, Options())
    assert result.cell_errors == []
    # The first cell holds no import: the new ``import random`` (for the random.seed added after the
    # migrated TF seed) goes to the top of the program, above the masked lines, which are kept.
    assert sources(result.new_json) == {
        1: "import random\n\n! pip install tensorflow==2.15\nif True:\n    ! nvidia-smi\n",
        2: "import tensorflow as tf\ntf.random.set_seed(1)\nrandom.seed(1)\n",
    }


def test_question_mark_at_the_end_of_a_line_inside_a_string_is_not_help():
    cell = ('import random\nimport tensorflow as tf\nHELP = """Which seed?\nIs it fixed?\n"""\n'
            "random.seed(1)\ntf.set_random_seed(1)\nASK = '''\n    really?'''\ntf.set_random_seed?\n")
    result = migrate_notebook(notebook(cell), Options())
    assert result.cell_errors == []
    assert sources(result.new_json)[1] == cell.replace("tf.set_random_seed(1)", "tf.random.set_seed(1)")
    magics: list[str] = []
    masked = mask(cell, magics)
    assert magics == ["tf.set_random_seed?"] and masked is not None and 'HELP = """Which seed?\n' in masked


def test_env_magic_is_masked_and_kept():
    cell = "%env PYTHONHASHSEED=0\nif True:\n    %env TF_DETERMINISTIC_OPS=1\nimport random\nimport tensorflow as tf\n" \
           "random.seed(1)\ntf.set_random_seed(1)\n"
    result = migrate_notebook(notebook(cell), Options())
    assert result.cell_errors == []
    assert sources(result.new_json)[1] == cell.replace("tf.set_random_seed(1)", "tf.random.set_seed(1)")


def test_a_new_keras_import_does_not_go_above_an_env_magic_read_at_import():
    # KERAS_BACKEND is read when Keras is imported: as for os.environ[...] in a .py file, the new
    # import must come after the environment is set.
    cell = ("%env KERAS_BACKEND=tensorflow\nimport numpy as np\nimport tensorflow as tf\n"
            "np.random.seed(1)\ntf.set_random_seed(1)\n")
    new = sources(migrate_notebook(notebook(cell), Options()).new_json)[1]
    assert "keras.utils.set_random_seed(1)" in new
    assert new.index("%env KERAS_BACKEND=tensorflow") < new.index("import keras")


@pytest.mark.parametrize(
    "source",
    [
        's = """\n!not a shell line\n%not a magic\n?not help\n"""\n',  # inside a triple-quoted string
        "y = (a\n%b)\nz = [c,\n!d]\n",  # inside brackets: modulo, and a syntax error that is not ours
        "x = 1 + \\\n%b\n",  # after a backslash continuation
        "s = 'it''s' \\\n    'ok?'\n",
        "# why?\nx = 1  # really?\n",
    ],
)
def test_lines_that_continue_a_statement_are_not_masked(source):
    assert mask(source, []) == source
