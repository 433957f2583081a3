"""Robustness sweeps over real code nobody wrote for this tool (``bench/sweep.py``).

* The standard library: no crash, and nothing changes (it holds no TF boilerplate;
  a change there would be a false positive).
* The installed site-packages (TensorFlow and Keras included, ~5,500 files here):
  no crash, every changed output parses, and a second run over it changes nothing.
  Every file is checked (about two minutes on two cores, the pre-filter skips most);
  set ``SITE_SAMPLE`` to a number to check a deterministic, seeded sample instead on
  an environment with many more packages.

``python bench/sweep.py`` prints the full report (changes per rule, sample files).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from sweep import SweepReport, sample, site_packages_files, stdlib_files, sweep  # noqa: E402

pytestmark = pytest.mark.slow

SITE_SAMPLE: int | None = None  # None: every file


def _problems(report: SweepReport) -> str:
    lines = [f"CRASH {c.path}\n{c.detail}" for c in report.crashes]
    lines += [f"output does not parse: {p}" for p in report.bad_output]
    lines += [f"second run changed: {p}" for p in report.not_idempotent]
    return "\n".join(lines)


def test_stdlib_sweep_no_crash_no_change() -> None:
    report = sweep(stdlib_files())
    assert report.files > 500
    assert report.ok, _problems(report)
    changed = {code: files[:5] for code, files in report.changed_files.items()}
    assert report.changed == 0, f"the standard library has no TF boilerplate, yet: {changed}"


def test_site_packages_sweep_no_crash_outputs_parse_idempotent() -> None:
    files = sample(site_packages_files(), SITE_SAMPLE)
    report = sweep(files)
    assert report.files == len(files)
    assert report.ok, _problems(report)
