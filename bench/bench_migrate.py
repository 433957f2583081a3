"""Speed and memory of ``tf-repro-migrate`` on a large generated tree, against ``tf_upgrade_v2``.

Usage::

    python bench/bench_migrate.py [--files 3000] [--workdir DIR] [--repeat 1] [--json]
                                  [--skip-tf-upgrade] [--keep]
    python bench/bench_migrate.py --paired 3 [--files 3000]     # the headline ratio only

One run generates the trees (``generate_tree.py``, seeded) in a temporary directory and
measures, each command in a fresh process:

* ``--check``, the quiet run (``-q``) and the run that prints diffs, at ``-j 1`` and at
  ``-j <all cores>``, on the main tree (a minority of files carry boilerplate);
* ``tf_upgrade_v2 --intree TREE --outtree OUT`` on the same tree (single process);
* ``--check`` on a 5,000-file tree where no file contains a trigger word (the
  pre-filter's best case);
* 300 generated Jupyter notebooks (the same share with boilerplate), at ``-j 1`` and all cores;
* one file end to end, interpreter start-up included (pre-commit's case);
* peak memory on 500 and 2,000 files, to show it does not grow with the file count.

Wall time is measured around the command, CPU time (user + system, every process of
the run) next to it: on a shared machine the CPU time is the steadier figure. Peak memory is ``ru_maxrss`` of
``RUSAGE_CHILDREN`` in a small wrapper process started per measurement, i.e. the peak
resident set of the largest single process of the run (the parent or one worker).
No third-party dependency.

``--paired N`` measures only the headline ratio, steadier on a shared machine: N rounds of
our diff run on all cores and ``tf_upgrade_v2``, back to back, each round's ratio and the
median.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate_tree import generate  # noqa: E402

# Runs COMMAND in a child and reports its wall time and the peak RSS of its process tree
# (Linux reports ru_maxrss in KiB). A fresh wrapper per measurement keeps the peaks apart.
_WRAPPER = textwrap.dedent("""
    import json, resource, subprocess, sys, time
    start = time.perf_counter()
    rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({"wall": wall, "rc": rc, "maxrss_kb": usage.ru_maxrss, "cpu": usage.ru_utime + usage.ru_stime}))
""")


@dataclass
class Measurement:
    name: str
    files: int
    wall: float  # seconds, median of the repeats
    cpu: float  # user + system seconds of every process of the run, median of the repeats
    peak_mb: float  # the largest peak over the repeats
    rc: int

    @property
    def files_per_s(self) -> float:
        return self.files / self.wall if self.wall else 0.0


def measure(name: str, cmd: list[str], files: int, repeat: int = 1) -> Measurement:
    walls, cpus, peaks, rc = [], [], [], 0
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", _WRAPPER, *cmd], capture_output=True, text=True, check=True)
        data = json.loads(out.stdout)
        walls.append(data["wall"])
        cpus.append(data["cpu"])
        peaks.append(data["maxrss_kb"] / 1024)
        rc = data["rc"]
    result = Measurement(name, files, statistics.median(walls), statistics.median(cpus), max(peaks), rc)
    print(f"  {name:<42} {result.wall:8.2f} s  cpu {result.cpu:8.2f} s  {result.peak_mb:7.1f} MB  rc={rc}  "
          f"load {os.getloadavg()[0]:.1f}", file=sys.stderr, flush=True)
    return result


def ours(*args: str) -> list[str]:
    return [sys.executable, "-m", "tf_repro_migrate", *args]


def tf_upgrade_v2() -> Path | None:
    """The ``tf_upgrade_v2`` script installed with TensorFlow, next to this interpreter."""
    for folder in (Path(sys.executable).parent, Path(sys.executable).resolve().parent):
        candidate = folder / "tf_upgrade_v2"
        if candidate.exists():
            return candidate
    found = shutil.which("tf_upgrade_v2")
    return Path(found) if found else None


MEMORY_FILES = (500, 2000)
NOTEBOOKS = 300

SINGLE_FILE = '''\
import os
import random as rn
import numpy as np
import tensorflow as tf
from keras import backend as K

os.environ['PYTHONHASHSEED'] = '0'
np.random.seed(42)
rn.seed(12345)
session_conf = tf.ConfigProto(intra_op_parallelism_threads=1, inter_op_parallelism_threads=1)
tf.set_random_seed(1234)
sess = tf.Session(graph=tf.get_default_graph(), config=session_conf)
K.set_session(sess)


def build(n):
    return [i * 2 for i in range(n)]
'''


def run_benchmark(work: Path, files: int, repeat: int, with_tf_upgrade: bool) -> dict[str, object]:
    cores = os.cpu_count() or 1
    print(f"generating trees in {work} ...", file=sys.stderr, flush=True)
    tree, nomatch = work / "tree", work / "nomatch"
    counts = generate(tree, files, 0.07, 0, no_match=False, pasta_safe=with_tf_upgrade)
    generate(nomatch, 5000, 0.0, 1, no_match=True)
    small, large = work / f"mem{MEMORY_FILES[0]}", work / f"mem{MEMORY_FILES[1]}"
    generate(small, MEMORY_FILES[0], 0.07, 2, no_match=False)
    generate(large, MEMORY_FILES[1], 0.07, 2, no_match=False)
    notebooks = work / "notebooks"
    generate(notebooks, 0, 0.07, 3, no_match=False, notebooks=NOTEBOOKS)
    single = work / "single" / "train.py"
    single.parent.mkdir()
    single.write_text(SINGLE_FILE)

    rows: list[Measurement] = []
    print("measuring ...", file=sys.stderr, flush=True)
    for jobs in (1, cores):
        rows.append(measure(f"check -j {jobs}", ours("--check", "-j", str(jobs), str(tree)), files, repeat))
        rows.append(measure(f"quiet (-q) -j {jobs}", ours("-q", "-j", str(jobs), str(tree)), files, repeat))
        rows.append(measure(f"diffs -j {jobs}", ours("-j", str(jobs), str(tree)), files, repeat))
    upgrade = tf_upgrade_v2() if with_tf_upgrade else None
    if upgrade is not None:
        outtree = work / "tf_upgrade_out"
        rows.append(measure("tf_upgrade_v2 (1 process)", [str(upgrade), "--intree", str(tree), "--outtree",
                                                         str(outtree), "--reportfile", str(work / "report.txt")],
                            files, 1))
        shutil.rmtree(outtree, ignore_errors=True)
    for jobs in (1, cores):
        rows.append(measure(f"no-match check -j {jobs}", ours("--check", "-j", str(jobs), str(nomatch)), 5000,
                            max(repeat, 3)))
    for jobs in (1, cores):
        rows.append(measure(f"notebooks -q -j {jobs}", ours("-q", "-j", str(jobs), str(notebooks)), NOTEBOOKS, repeat))
    rows.append(measure("single file, end to end", ours(str(single)), 1, max(repeat, 5)))
    rows.append(measure("python start-up only", [sys.executable, "-c", "pass"], 1, max(repeat, 5)))
    for jobs in (1, cores):
        for count, tree_dir in zip(MEMORY_FILES, (small, large)):
            rows.append(measure(f"memory {count} files -j {jobs}", ours("-q", "-j", str(jobs), str(tree_dir)), count, 1))

    by_name = {r.name: r for r in rows}
    ratios: dict[str, float] = {}
    targets: dict[str, bool] = {}
    if "tf_upgrade_v2 (1 process)" in by_name:
        tfu = by_name["tf_upgrade_v2 (1 process)"].wall
        tfu_cpu = by_name["tf_upgrade_v2 (1 process)"].cpu
        for name in ("diffs -j 1", f"diffs -j {cores}", f"check -j {cores}", f"quiet (-q) -j {cores}"):
            ratios[f"tf_upgrade_v2 / {name} (wall)"] = tfu / by_name[name].wall
        for name in ("check -j 1", "diffs -j 1"):
            ratios[f"tf_upgrade_v2 / {name} (cpu)"] = tfu_cpu / by_name[name].cpu
        targets["10x faster than tf_upgrade_v2 (diffs, all cores, wall)"] = (
            ratios[f"tf_upgrade_v2 / diffs -j {cores} (wall)"] >= 10)
        targets["10x faster than tf_upgrade_v2 (diffs, -j 1, cpu)"] = ratios["tf_upgrade_v2 / diffs -j 1 (cpu)"] >= 10
    targets["no-match tree of 5,000 files under 2 s"] = by_name[f"no-match check -j {cores}"].wall < 2.0
    targets["one file end to end under 0.5 s"] = by_name["single file, end to end"].wall < 0.5
    small_n, large_n = MEMORY_FILES
    for jobs in (1, cores):
        grow = by_name[f"memory {large_n} files -j {jobs}"].peak_mb / by_name[f"memory {small_n} files -j {jobs}"].peak_mb
        ratios[f"peak memory {large_n} / {small_n} files, -j {jobs}"] = grow
        targets[f"peak memory does not grow with file count (-j {jobs}, 4x files -> < 1.25x memory)"] = grow < 1.25
    return {
        "machine": machine(),
        "tree": counts,
        "rows": [{**asdict(r), "files_per_s": r.files_per_s} for r in rows],
        "ratios": ratios,
        "targets": targets,
    }


def run_paired(work: Path, files: int, rounds: int) -> dict[str, object]:
    """Our diff run on all cores and tf_upgrade_v2, one right after the other, ``rounds`` times.

    On a shared machine the speed of the host drifts by tens of percent over minutes; a ratio
    taken from two measurements made back to back, repeated, is steadier than one taken from
    measurements minutes apart. Reports every round's ratio and the median."""
    cores = os.cpu_count() or 1
    upgrade = tf_upgrade_v2()
    if upgrade is None:
        raise SystemExit("tf_upgrade_v2 is not installed (it ships with the tensorflow package)")
    print(f"generating a tree in {work} ...", file=sys.stderr, flush=True)
    tree = work / "tree"
    counts = generate(tree, files, 0.07, 0, no_match=False, pasta_safe=True)
    pairs = []
    for _ in range(rounds):
        ours_run = measure(f"diffs -j {cores}", ours("-j", str(cores), str(tree)), files)
        outtree = work / "tf_upgrade_out"
        theirs = measure("tf_upgrade_v2 (1 process)", [str(upgrade), "--intree", str(tree), "--outtree", str(outtree),
                                                      "--reportfile", str(work / "report.txt")], files)
        shutil.rmtree(outtree, ignore_errors=True)
        pairs.append({"ours_wall": ours_run.wall, "ours_cpu": ours_run.cpu, "tf_upgrade_v2_wall": theirs.wall,
                      "tf_upgrade_v2_cpu": theirs.cpu, "ratio_wall": theirs.wall / ours_run.wall})
    return {"machine": machine(), "tree": counts, "pairs": pairs,
            "median_ratio_wall": statistics.median(p["ratio_wall"] for p in pairs)}


def machine() -> dict[str, object]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "python": sys.version.split()[0], "cpu": cpu, "load": os.getloadavg()[0]}


def print_table(report: dict[str, object]) -> None:
    m = report["machine"]
    print(f"machine: {m['nproc']} cores, {m['cpu']}, Python {m['python']}, "  # type: ignore[index]
          f"load average {m['load']:.1f} at the end")  # type: ignore[index]
    tree = report["tree"]
    print(f"tree: {tree['files']} files, {tree['with_boilerplate']} with boilerplate")  # type: ignore[index]
    print()
    print(f"{'measurement':<44} {'files':>6} {'wall s':>8} {'cpu s':>8} {'files/s':>9} {'peak MB':>8} {'exit':>4}")
    for row in report["rows"]:  # type: ignore[attr-defined]
        print(f"{row['name']:<44} {row['files']:>6} {row['wall']:>8.2f} {row['cpu']:>8.2f} {row['files_per_s']:>9.0f} "
              f"{row['peak_mb']:>8.1f} {row['rc']:>4}")
    print()
    for name, value in report["ratios"].items():  # type: ignore[attr-defined]
        print(f"{name:<60} {value:8.2f}x")
    print()
    for name, met in report["targets"].items():  # type: ignore[attr-defined]
        print(f"[{'met' if met else 'MISSED'}] {name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=3000, help="files in the main tree")
    parser.add_argument("--workdir", type=Path, help="an existing directory for the trees (default: the system's temp)")
    parser.add_argument("--repeat", type=int, default=1, help="repeats per measurement (median is reported)")
    parser.add_argument("--skip-tf-upgrade", action="store_true", help="do not run tf_upgrade_v2")
    parser.add_argument("--keep", action="store_true", help="keep the generated trees")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--paired", type=int, metavar="N",
                        help="only the headline ratio: N rounds of our diff run (all cores) and tf_upgrade_v2 back to back")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="tf-repro-bench-", dir=args.workdir))
    try:
        if args.paired:
            report = run_paired(work, args.files, args.paired)
        else:
            report = run_benchmark(work, args.files, args.repeat, not args.skip_tf_upgrade)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    if args.paired and not args.json:
        for i, pair in enumerate(report["pairs"], 1):  # type: ignore[arg-type]
            print(f"round {i}: ours {pair['ours_wall']:.2f} s, tf_upgrade_v2 {pair['tf_upgrade_v2_wall']:.2f} s, "
                  f"ratio {pair['ratio_wall']:.2f}x")
        print(f"median ratio (wall): {report['median_ratio_wall']:.2f}x")
        return 0
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_table(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
