"""Markdown and reStructuredText: Python code blocks migrated as one program, the rest byte-identical."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from tf_repro_migrate.cli import main
from tf_repro_migrate.context import Options
from tf_repro_migrate.docs import (
    markdown_blocks,
    migrate_document,
    rst_blocks,
    split_lines,
)


def doc(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def migrated(text: str, suffix: str = ".md", **options: object) -> str:
    result = migrate_document(text, Options(**options), suffix)  # type: ignore[arg-type]
    again = migrate_document(result.new_text, Options(**options), suffix)  # type: ignore[arg-type]
    assert again.new_text == result.new_text, "not idempotent"
    return result.new_text


README = doc(
    """
    # Reproducible training

    Install it first:

    ```bash
    pip install tensorflow==1.15
    tf.set_random_seed(0)  # not Python: a bash fence is never touched
    ```

    Import what you need:

    ```python
    import tensorflow as tf
    ```

    Then seed, before building the model:

    ```py
    tf.set_random_seed(1)  # the graph seed
    ```

    ~~~python
    tf.set_random_seed(2)
    ~~~
    """
)


def test_markdown_fences_are_one_program_in_document_order():
    # The import is in an earlier fence than the seeds: the names resolve across fences. Nothing
    # seeds Python's random (Keras 3 draws its seeds from it): random.seed goes after each TF seed,
    # its import into the fence of imports (which gains no blank line at its end).
    assert migrated(README) == README.replace(
        "import tensorflow as tf\n```", "import tensorflow as tf\nimport random\n```").replace(
        "```py\ntf.set_random_seed(1)  # the graph seed\n",
        "```py\ntf.random.set_seed(1)  # the graph seed\nrandom.seed(1)\n").replace(
        "~~~python\ntf.set_random_seed(2)\n", "~~~python\ntf.random.set_seed(2)\nrandom.seed(2)\n")


def test_fence_in_a_list_item_keeps_its_indentation_and_crlf_line_ends():
    text = doc(
        """
        1. Seed everything:

           ```python
           import tensorflow as tf

           if True:
               tf.set_random_seed(1)
           ```

        2. Train.
        """
    ).replace("\n", "\r\n")
    # The lines added (random.seed after the migrated TF seed, its import) take the fence's
    # indentation, the suite's and the document's line ends.
    assert migrated(text) == doc(
        """
        1. Seed everything:

           ```python
           import tensorflow as tf
           import random

           if True:
               tf.random.set_seed(1)
               random.seed(1)
           ```

        2. Train.
        """
    ).replace("\n", "\r\n")


def test_lines_added_to_an_indented_fence_take_its_indentation():
    text = doc(
        """
        - Set-up:

          ```python
          import random
          import numpy as np
          import tensorflow as tf
          random.seed(42)
          np.random.seed(42)
          tf.set_random_seed(42)
          ```
        """
    )
    assert migrated(text) == doc(
        """
        - Set-up:

          ```python
          import tensorflow as tf
          import keras

          keras.utils.set_random_seed(42)
          ```
        """
    )  # ``import tensorflow`` stays even when unused: importing it runs code


def test_kept_lines_of_a_changed_fence_stay_byte_identical():
    # Whitespace-only lines, trailing spaces and a form feed inside a changed fence are copied as they were.
    text = ("- x\n\n   ```python\n   import random  \n   import tensorflow as tf  \n   \n   x = 1\x0c  # page\n\n"
            "   random.seed(1)\n   tf.set_random_seed(1)\n \n   ```\n")
    assert migrated(text) == text.replace("tf.set_random_seed", "tf.random.set_seed")


def test_trailing_spaces_of_the_line_an_import_goes_after_are_kept():
    text = "```python\nimport tensorflow as tf  \ntf.set_random_seed(1)\n```\n"
    assert migrated(text) == ("```python\nimport tensorflow as tf  \nimport random\n\n"
                              "tf.random.set_seed(1)\nrandom.seed(1)\n```\n")


def test_ipython_lines_in_a_python_fence_are_masked():
    text = ("```python\n! pip install tensorflow\n%matplotlib inline\nimport random\nimport tensorflow as tf\n"
            "random.seed(1)\ntf.set_random_seed(1)\n```\n")
    assert migrated(text) == text.replace("tf.set_random_seed", "tf.random.set_seed")


@pytest.mark.parametrize("info", ["python", "py", "python3", "Python", "py title=\"train.py\"", "{.python}",
                                  "{code-cell} ipython3"])
def test_python_info_strings(info):
    text = f"```{info}\nimport random\nimport tensorflow as tf\nrandom.seed(1)\ntf.set_random_seed(1)\n```\n"
    assert migrated(text) == text.replace("tf.set_random_seed", "tf.random.set_seed")


def test_bare_fence_holding_python_is_migrated():
    text = "```\nimport random\nimport tensorflow as tf\nrandom.seed(1)\ntf.set_random_seed(1)\n```\n"
    assert migrated(text) == text.replace("tf.set_random_seed", "tf.random.set_seed")


@pytest.mark.parametrize(
    "fence",
    [
        "```bash\nimport tensorflow as tf\ntf.set_random_seed(1)\n```\n",  # another language
        "```text\nimport tensorflow as tf\ntf.set_random_seed(1)\n```\n",
        "```\npip install tensorflow==1.15\npython -c 'tf.set_random_seed(1)'\n```\n",  # a bare fence of shell
        # a doctest session: prompts and output, never rewritten (pycon, or prompts in a bare fence)
        "```pycon\n>>> import tensorflow as tf\n>>> tf.set_random_seed(1)\n```\n",
        "```\n>>> import tensorflow as tf\n>>> tf.set_random_seed(1)\n```\n",
        # a bare fence that parses but holds no import, call or assignment (YAML keys, a word)
        "```\nseed: tf.set_random_seed\n```\n",
        # indented code blocks and inline code carry no language: left alone
        "Text\n\n    import tensorflow as tf\n    tf.set_random_seed(1)\n",
        "Use ```tf.set_random_seed(1)``` and `import tensorflow as tf`.\n",
        # a python fence shown as the content of a longer markdown fence is text
        "````markdown\n```python\nimport tensorflow as tf\ntf.set_random_seed(1)\n```\n````\n",
        # a fence left open to the end of the document
        "```python\nimport tensorflow as tf\ntf.set_random_seed(1)\n",
        # a content line less indented than its fence: the fence cannot be rewritten faithfully
        "  ```python\n  import tensorflow as tf\ntf.set_random_seed(1)\n  ```\n",
    ],
)
def test_blocks_that_are_not_python_programs_are_left_alone(fence):
    text = "import tensorflow as tf\n\n```python\nimport tensorflow as tf\n```\n\n" + fence
    assert migrate_document(text, Options(), ".md").new_text == text


def test_fence_that_does_not_parse_is_skipped_quietly(tmp_path, capsys):
    path = tmp_path / "guide.md"
    path.write_text(
        "```python\nimport random\nimport tensorflow as tf\n```\n\n"
        "```python\nmodel.fit(x, y, ...  # a fragment\n```\n\n"
        "```python\nprint 'Python 2'\n```\n\n"
        "```python\nrandom.seed(1)\ntf.set_random_seed(1)\n```\n"
    )
    assert main(["--write", str(path)]) == 0
    out, err = capsys.readouterr()
    assert "error" not in out + err and "0 failed" in out
    assert path.read_text() == (
        "```python\nimport random\nimport tensorflow as tf\n```\n\n"
        "```python\nmodel.fit(x, y, ...  # a fragment\n```\n\n"
        "```python\nprint 'Python 2'\n```\n\n"
        "```python\nrandom.seed(1)\ntf.random.set_seed(1)\n```\n"
    )


RST = doc(
    """
    Reproducible runs
    =================

    .. code-block:: python
       :linenos:
       :caption: setup.py

       import os
       import tensorflow as tf

    #. Seed it:

       .. code:: python

           tf.set_random_seed(1)
           os.environ['CUDA_VISIBLE_DEVICES'] = ''

    .. code-block:: bash

       tf.set_random_seed(2)

    A literal block (Sphinx highlights it as Python)::

        tf.set_random_seed(3)

    .. testcode::

       tf.set_random_seed(4)

    .. doctest::

       >>> tf.set_random_seed(5)

    The end.
    """
)


def test_rst_code_directives_and_literal_blocks():
    # Each random.seed added after a migrated TF seed takes its block's indentation.
    assert migrated(RST, ".rst") == RST.replace(
        "   import tensorflow as tf\n", "   import tensorflow as tf\n   import random\n").replace(
        "       tf.set_random_seed(1)\n", "       tf.random.set_seed(1)\n       random.seed(1)\n").replace(
        "    tf.set_random_seed(3)\n", "    tf.random.set_seed(3)\n    random.seed(3)\n").replace(
        "   tf.set_random_seed(4)\n", "   tf.random.set_seed(4)\n   random.seed(4)\n")


def test_rst_highlight_directive_decides_what_a_literal_block_holds():
    text = doc(
        """
        .. code-block:: python

           import random
           import tensorflow as tf

        .. highlight:: bash

        Run::

           tf.set_random_seed(1)

        .. highlight:: python

        Seed::

           random.seed(2)
           tf.set_random_seed(2)
        """
    )
    assert migrated(text, ".rst") == text.replace("tf.set_random_seed(2)", "tf.random.set_seed(2)")


def test_rst_block_at_the_end_of_a_document_without_a_final_newline():
    text = ".. code-block:: python\n\n   import tensorflow as tf\n   tf.set_random_seed(1)"
    # The line added after the last one (random.seed) is the last line now: it has no line end.
    assert migrated(text, ".rst") == (".. code-block:: python\n\n   import tensorflow as tf\n   import random\n\n"
                                      "   tf.random.set_seed(1)\n   random.seed(1)")


def test_blocks_record_where_their_code_sits():
    md = split_lines("# T\n\n  ```python\n  x = 1\n\n  y = 2\n  ```\n")
    [block] = markdown_blocks(md)
    assert (block.start, block.end, block.indent, block.code, block.bare) == (3, 6, "  ", "x = 1\n\ny = 2\n", False)
    rst = split_lines(".. code-block:: python\n   :linenos:\n\n     x = 1\n   y = 2\n\n\nText\n")
    [block] = rst_blocks(rst)
    assert (block.start, block.end, block.indent, block.code) == (3, 5, "   ", "  x = 1\ny = 2\n")


@pytest.fixture
def docs_tree(tmp_path):
    (tmp_path / "README.md").write_text(README)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "guide.rst").write_text(RST)
    (tmp_path / "notes.txt").write_text("```python\nimport tensorflow as tf\ntf.set_random_seed(1)\n```\n")
    return tmp_path


def test_findings_name_the_line_and_column_in_the_document(docs_tree, capsys):
    main([str(docs_tree / "docs" / "guide.rst")])
    out, _ = capsys.readouterr()
    path = docs_tree / "docs" / "guide.rst"
    lines = RST.splitlines()
    assert lines[15 - 1] == "       tf.set_random_seed(1)" and lines[16 - 1].startswith("       os.environ")
    assert f"{path}:15:8 TRM001 [safe fix] tf.set_random_seed -> tf.random.set_seed" in out
    assert f"{path}:16:8 TRM007 [unsafe fix held back]" in out


def test_directory_walks_pick_up_markdown_and_rst_and_diffs_are_of_the_whole_document(docs_tree, capsys):
    assert main(["--check", str(docs_tree)]) == 1
    out, err = capsys.readouterr()
    assert out == f"{docs_tree / 'README.md'}\n{docs_tree / 'docs' / 'guide.rst'}\n"
    assert err.startswith("2 files scanned")
    main([str(docs_tree / "README.md")])
    out, _ = capsys.readouterr()
    readme = docs_tree / "README.md"
    assert f"--- a/{readme}\n+++ b/{readme}\n" in out and ":cell" not in out
    assert "-tf.set_random_seed(1)  # the graph seed\n+tf.random.set_seed(1)  # the graph seed\n" in out


def test_write_then_check_is_clean_and_the_mode_is_kept(docs_tree, capsys):
    readme = docs_tree / "README.md"
    readme.chmod(0o640)
    assert main(["--write", str(docs_tree)]) == 1  # the TRM007 removal is held back
    assert readme.read_text() == migrated(README)
    assert readme.stat().st_mode & 0o777 == 0o640
    written = {p: p.read_bytes() for p in docs_tree.rglob("*.*")}
    assert main(["--check", str(docs_tree)]) == 0
    assert {p: p.read_bytes() for p in docs_tree.rglob("*.*")} == written
    capsys.readouterr()


def test_json_and_sarif_reports_carry_document_lines(docs_tree, capsys):
    main(["--format", "json", str(docs_tree)])
    report = json.loads(capsys.readouterr()[0])
    found = {(f["file"].rsplit("/", 1)[-1], f["line"], f["column"], f["code"], f["cell"]) for f in report["findings"]}
    assert ("README.md", 19, 1, "TRM001", None) in found and ("guide.rst", 15, 8, "TRM001", None) in found
    assert report["errors"] == []
    main(["--format", "sarif", str(docs_tree)])
    sarif = json.loads(capsys.readouterr()[0])
    regions = {(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].rsplit("/", 1)[-1],
                r["locations"][0]["physicalLocation"]["region"]["startLine"]) for r in sarif["runs"][0]["results"]}
    assert ("guide.rst", 16) in regions and ("README.md", 23) in regions


def test_documents_without_boilerplate_are_skipped_undecoded_and_bad_ones_are_errors(tmp_path, capsys):
    (tmp_path / "latin1.md").write_bytes("caf\xe9 -- nothing to migrate\n".encode("latin-1"))
    (tmp_path / "bad.md").write_bytes(b"```python\ntf.set_random_seed(1)  # caf\xe9\n```\n")
    assert main(["--check", str(tmp_path)]) == 2
    _, err = capsys.readouterr()
    assert err.splitlines()[0] == f"{tmp_path / 'bad.md'}: error: cannot decode as utf-8: invalid continuation byte"
    assert "2 files scanned, 1 skipped by the pre-filter" in err


def test_interactive_offers_a_document_as_a_whole(docs_tree, capsys, monkeypatch):
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))
    main(["--interactive", str(docs_tree / "README.md")])
    out, _ = capsys.readouterr()
    assert "Apply this change?" in out and (docs_tree / "README.md").read_text() == migrated(README)


def test_migrated_recipe_from_a_readme_runs_under_tf2(tmp_path):
    text = doc(
        """
        ## Set-up

        ```python
        import os
        import random
        import numpy as np
        import tensorflow as tf
        from keras import backend as K
        ```

        Seed everything and use one thread:

        ```python
        np.random.seed(42)
        random.seed(42)
        tf.set_random_seed(42)
        session_conf = tf.ConfigProto(intra_op_parallelism_threads=1, inter_op_parallelism_threads=1)
        sess = tf.Session(graph=tf.get_default_graph(), config=session_conf)
        K.set_session(sess)
        ```

        ```python
        print(float(tf.random.uniform([])))
        ```
        """
    )
    new = migrate_document(text, Options(), ".md").new_text
    assert "tf.Session" not in new and "keras.utils.set_random_seed(42)" in new
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "3"}

    def run(document: str) -> subprocess.CompletedProcess[str]:
        script = tmp_path / "recipe.py"
        script.write_text("".join(block.code for block in markdown_blocks(split_lines(document))))
        return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=240,
                              check=False, cwd=tmp_path, env=env)

    before = run(text)
    assert before.returncode != 0 and "has no attribute 'set_random_seed'" in before.stderr
    first, second = run(new), run(new)
    assert first.returncode == 0 and second.returncode == 0, first.stderr[-2000:]
    assert first.stdout == second.stdout and first.stdout.strip()


def test_an_example_is_kept_with_an_ignore_comment_and_documents_can_be_excluded(tmp_path, capsys):
    text = ("Before:\n\n```python\nimport tensorflow as tf\ntf.set_random_seed(1)  # tf-repro-migrate: ignore\n```\n\n"
            "After:\n\n```python\nimport random\nrandom.seed(2)\ntf.set_random_seed(2)\n```\n")
    assert migrated(text) == text.replace("tf.set_random_seed(2)", "tf.random.set_seed(2)")
    (tmp_path / "README.md").write_text(text)
    assert main(["--check", "--exclude", "*.md", str(tmp_path)]) == 0
    assert capsys.readouterr()[1].startswith("0 files scanned")


def test_a_byte_order_mark_before_the_first_fence_is_kept():
    text = "\ufeff```python\nimport random\nimport tensorflow as tf\nrandom.seed(1)\ntf.set_random_seed(1)\n```\n"
    assert migrated(text) == text.replace("tf.set_random_seed", "tf.random.set_seed")


def test_a_program_too_deep_to_analyse_is_an_error_naming_the_file(tmp_path, capsys):
    path = tmp_path / "deep.md"
    path.write_text("```python\nimport tensorflow as tf\nx = " + "[" * 200 + "]" * 200 + "\ntf.set_random_seed(1)\n```\n")
    before = path.read_bytes()
    assert main(["--write", str(path)]) == 2
    assert capsys.readouterr()[1] == f"{path}: error: too deeply nested to migrate\n"
    assert path.read_bytes() == before
