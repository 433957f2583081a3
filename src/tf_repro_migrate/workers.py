"""Worker processes that parse and migrate, so that one bad file cannot end the run.

libcst's native parser can crash the whole process (deep nesting overflows its stack),
a huge file can exhaust memory and a pathological one can take minutes. So the parent
never parses: it hands one file at a time to each worker process and watches it.

- a worker that dies (a signal, an abort, the memory limit) is reported as a one-line
  error naming the file it was working on, and a fresh worker takes the remaining files;
- a file that takes longer than the time limit (``--timeout-per-file``) gets its worker
  killed and is reported the same way;
- each worker runs under an address-space limit (``MEMORY_LIMIT``), so a file that needs
  more memory fails alone instead of taking the machine down;
- workers die with their parent, even when the parent is SIGKILLed (Linux: the parent-death
  signal; elsewhere they exit when the parent's end of their pipe closes), and ignore Ctrl-C
  (the parent stops them; a SIGTERM lets an interrupted write remove its temporary file).

Results come back in the order of the input, as the files are done.
"""

from __future__ import annotations

import faulthandler
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generator, Sequence

DEFAULT_TIMEOUT = 60.0  # seconds per file; the largest real files take about a second
MEMORY_LIMIT = 4 << 30  # bytes of address space per worker; real files need well under 1 GiB
_STOP_GRACE = 2.0  # seconds a worker gets after SIGTERM before SIGKILL


def _context() -> Any:
    # fork: the worker starts with the parent's imports and warmed caches (a few ms);
    # where there is no fork, spawn (the worker imports the package itself).
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def _die_with_parent() -> None:
    """Ask the kernel to SIGKILL this process when its parent dies (Linux only)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes  # here, in the worker: the parent never needs it

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - no prctl: the pipe EOF still ends the worker
        pass


def _on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through write_atomic, which removes its temporary file


def _limit_memory(limit: int | None) -> None:
    if not limit:
        return
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        if soft == resource.RLIM_INFINITY or soft > limit:
            resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ImportError, ValueError, OSError):  # pragma: no cover - no resource module (Windows)
        pass


def _worker_main(conn: multiprocessing.connection.Connection, job: Any, memory_limit: int | None,
                 parent_pid: int) -> None:
    """Process the paths the parent sends, one at a time, until told to stop."""
    _die_with_parent()
    if os.getppid() != parent_pid:  # the parent died before the death signal was armed
        os._exit(0)
    faulthandler.disable()  # a crash is reported by the parent, in one line
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _on_sigterm)
    _limit_memory(memory_limit)
    from tf_repro_migrate.pipeline import FileResult, StdinSource, process_file, process_stdin

    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        index, path = task
        try:
            result = process_stdin(path.name, path.data, job) if isinstance(path, StdinSource) else process_file(path, job)
        except MemoryError:
            result = FileResult(str(path), "error", error=_memory_message(memory_limit))
            conn.send((index, result))
            return  # the heap may be in a poor state: a fresh worker takes the next file
        except Exception as exc:  # a bug, not a bad file: still one line, and the run goes on
            result = FileResult(str(path), "error", error=f"internal error: {type(exc).__name__}: {exc}")
        conn.send((index, result))


def _memory_message(limit: int | None) -> str:
    return f"out of memory (more than the {limit >> 20} MB a file may use)" if limit else "out of memory"


@dataclass
class _Worker:
    process: Any
    conn: multiprocessing.connection.Connection
    task: tuple[int, Path] | None = None
    started: float = 0.0


class WorkerPool:
    """A few worker processes; ``map`` yields one result per path, in order."""

    def __init__(self, job: Any, workers: int = 1, timeout: float | None = DEFAULT_TIMEOUT,
                 memory_limit: int | None = MEMORY_LIMIT):
        self.job = job
        self.size = max(1, workers)
        self.timeout = timeout if timeout and timeout > 0 else None
        self.memory_limit = memory_limit
        self._ctx = _context()
        self._workers: list[_Worker] = []

    def _start(self) -> _Worker:
        parent_conn, child_conn = self._ctx.Pipe()
        process = self._ctx.Process(target=_worker_main, args=(child_conn, self.job, self.memory_limit, os.getpid()),
                                    daemon=True)
        process.start()
        child_conn.close()  # so the worker's end is the only one: EOF when either side dies
        worker = _Worker(process, parent_conn)
        self._workers.append(worker)
        return worker

    def _retire(self, worker: _Worker, kill: bool) -> None:
        if kill and worker.process.is_alive():
            worker.process.kill()
        worker.process.join()
        worker.conn.close()
        self._workers.remove(worker)

    def map(self, paths: Sequence[Any]) -> Generator[Any, None, None]:
        """Results for ``paths`` (each a Path, or a pipeline.StdinSource), in order."""
        from tf_repro_migrate.pipeline import FileResult

        pending = list(enumerate(paths))
        pending.reverse()  # pop() from the end takes them in order
        done: dict[int, Any] = {}
        next_out = 0
        try:
            while next_out < len(paths):
                while pending and (len(self._workers) < self.size or any(w.task is None for w in self._workers)):
                    idle = next((w for w in self._workers if w.task is None), None) or self._start()
                    idle.task = pending.pop()
                    idle.started = time.monotonic()
                    try:
                        idle.conn.send(idle.task)
                    except OSError:  # died between tasks: the reader below reports it
                        pass
                while next_out in done:
                    yield done.pop(next_out)
                    next_out += 1
                if next_out >= len(paths):
                    break
                busy = [w for w in self._workers if w.task is not None]
                wait = None
                if self.timeout is not None:
                    wait = max(0.0, min(w.started + self.timeout for w in busy) - time.monotonic())
                ready = multiprocessing.connection.wait([w.conn for w in busy], wait)
                now = time.monotonic()
                for worker in busy:
                    assert worker.task is not None
                    index, path = worker.task
                    if worker.conn in ready:
                        try:
                            got_index, result = worker.conn.recv()
                        except (EOFError, OSError):
                            self._retire(worker, kill=True)
                            done[index] = FileResult(str(path), "error", error=_crash_message(worker))
                            continue
                        done[got_index] = result
                        worker.task = None
                        if result.status == "error" and result.error == _memory_message(self.memory_limit):
                            self._retire(worker, kill=False)  # it exits after a MemoryError
                    elif self.timeout is not None and now - worker.started >= self.timeout:
                        self._retire(worker, kill=True)
                        done[index] = FileResult(
                            str(path), "error",
                            error=f"timed out after {self.timeout:g} s (limit: --timeout-per-file)")
        finally:
            self.close()

    def close(self) -> None:
        """Stop every worker: a stop message to idle ones, SIGTERM then SIGKILL to busy ones."""
        for worker in self._workers:
            try:
                if worker.task is None:
                    worker.conn.send(None)
                else:
                    worker.process.terminate()
            except (OSError, ValueError):
                pass
        deadline = time.monotonic() + _STOP_GRACE
        for worker in list(self._workers):
            worker.process.join(max(0.0, deadline - time.monotonic()))
            self._retire(worker, kill=True)


def _crash_message(worker: _Worker) -> str:
    code = worker.process.exitcode
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        how = f"killed by {name}"
    else:
        how = f"exit status {code}"
    return f"the parser crashed ({how}); the file is probably too deeply nested or too large"
