"""Copy on first write for the links of a run's scratch directory.

The mirror (:func:`tf_repro_migrate.verify.runner.mirror_directory`) copies
small files into the scratch directory but exposes large files, tool
directories and anything past its budget as symbolic links to the user's
originals.  A write through such a link would change the user's file, so the
child process installs this guard before the harness runs the script:

* opening a linked file for writing first replaces the link by a private copy
  (append, ``r+``, writes without truncation) or by an empty private file
  (``w``, ``O_TRUNC``: the old contents are not needed);
* any change below a linked directory (create, open for writing, remove,
  rename, ``mkdir``, ``rmtree``, ``chmod``, ...) first replaces the linked
  directory by a real directory of links to its entries, one level at a time,
  so the change lands in the scratch directory.

The guard wraps Python's file APIs (``open``/``io.open``, the path functions
of :mod:`os`, ``shutil.rmtree``) and the two Python entry points of C-level
writers training scripts use, ``h5py.File`` (``model.save("m.h5")``,
``save_weights``) and TensorFlow's ``tf.io.gfile.GFile``.  Other writes made
from C code are not seen here: the parent compares the originals before and
after every run and reports any change.

Run as ``python -m tf_repro_migrate.verify.guard HARNESS-ARGS...``: installs
the guard for the scratch directory named by ``TF_REPRO_VERIFY_SCRATCH`` (the
working directory by default), then runs the harness.
"""

from __future__ import annotations

import builtins
import errno
import importlib.abc
import io
import os
import shutil
import stat
import sys
from typing import Any

SCRATCH_ENV = "TF_REPRO_VERIFY_SCRATCH"
COPY_UP_MAX_BYTES = 1 << 30  # TF_REPRO_VERIFY_COPY_UP_MAX_BYTES: larger linked files are not copied
_SCRATCH = ""
_COPY_UP_MAX = COPY_UP_MAX_BYTES
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC

# What a path operation needs from its final component.
_KEEP = 0  # nothing (the operation acts on the directory entry, e.g. remove)
_COPY = 1  # a private copy of a linked file (its contents are kept)
_EMPTY = 2  # a private empty file (its contents are replaced)
_DIR = 3  # a private directory (e.g. rmtree)


def _inside(path: str) -> bool:
    return bool(_SCRATCH) and (path == _SCRATCH or path.startswith(_SCRATCH + os.sep))


def _outside_link(path: str) -> str | None:
    """The real target of ``path`` if it is a link leading out of the scratch directory."""
    if not os.path.islink(path):
        return None
    target = os.path.realpath(path)
    return None if _inside(target) else target


def _materialize_dir(link: str, target: str) -> None:
    """Replace a link to a directory by a real directory of links to its entries."""
    fresh = f"{link}.tfrm-guard-{os.getpid()}"
    _REAL["mkdir"](fresh)
    try:
        for name in os.listdir(target):
            _REAL["symlink"](os.path.join(target, name), os.path.join(fresh, name))
        _REAL["chmod"](fresh, stat.S_IMODE(os.stat(target).st_mode))
    except BaseException:
        shutil.rmtree(fresh, ignore_errors=True)
        raise
    _REAL["unlink"](link)
    _REAL["rename"](fresh, link)


def _private_file(link: str, target: str, keep_contents: bool) -> None:
    """Replace a link to a file by a private copy (or an empty file) with its mode."""
    st = os.stat(target)
    if not stat.S_ISREG(st.st_mode):
        return  # a device or FIFO reached through a link: leave it to the OS
    if keep_contents and st.st_size > _COPY_UP_MAX:
        raise PermissionError(errno.EACCES, "tf-repro-migrate verify: not writing to this link to your "
                              f"file {target} ({st.st_size} bytes, over the copy-on-write limit of "
                              f"{_COPY_UP_MAX} bytes: TF_REPRO_VERIFY_COPY_UP_MAX_BYTES)", link)
    fresh = f"{link}.tfrm-guard-{os.getpid()}"
    try:
        if keep_contents:
            shutil.copyfile(target, fresh)
        else:
            _REAL["builtin_open"](fresh, "xb").close()
        _REAL["chmod"](fresh, stat.S_IMODE(st.st_mode))
        _REAL["rename"](fresh, link)
    except BaseException:
        if os.path.lexists(fresh):
            _REAL["unlink"](fresh)
        raise


def make_private(path: Any, final: int = _KEEP) -> None:
    """Make sure changing ``path`` changes nothing outside the scratch directory."""
    if not _SCRATCH or isinstance(path, int):
        return
    try:
        full = os.path.abspath(os.fsdecode(path))
    except (TypeError, ValueError):
        return
    if not _inside(full) or full == _SCRATCH:
        return
    parts = full[len(_SCRATCH) + 1:].split(os.sep)
    current = _SCRATCH
    for i, part in enumerate(parts):
        current = os.path.join(current, part)
        last = i == len(parts) - 1
        target = _outside_link(current)
        if target is None:
            if not os.path.lexists(current):
                return  # nothing below a missing entry can be a link
            continue
        if os.path.isdir(target):
            if not last or final == _DIR:
                _materialize_dir(current, target)
        elif last and final in (_COPY, _EMPTY):
            _private_file(current, target, keep_contents=final == _COPY)
        else:
            return


def _open_final(mode: str) -> int | None:
    if "x" in mode:
        return None  # exclusive creation fails on an existing entry anyway
    if "w" in mode:
        return _EMPTY
    if "a" in mode or "+" in mode:
        return _COPY
    return None


_REAL: dict[str, Any] = {}


def install(scratch: str) -> None:
    """Wrap Python's file APIs so that writes never go through links out of ``scratch``."""
    global _SCRATCH, _COPY_UP_MAX
    _SCRATCH = os.path.realpath(scratch)
    try:
        _COPY_UP_MAX = int(os.environ.get("TF_REPRO_VERIFY_COPY_UP_MAX_BYTES", COPY_UP_MAX_BYTES))
    except ValueError:
        _COPY_UP_MAX = COPY_UP_MAX_BYTES
    if _REAL:
        return
    for name in ("open", "remove", "unlink", "rmdir", "mkdir", "rename", "replace", "truncate",
                 "chmod", "utime", "symlink", "link"):
        _REAL[name] = getattr(os, name)
    _REAL["builtin_open"] = builtins.open
    _REAL["rmtree"] = shutil.rmtree
    real_open = builtins.open

    def guarded_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        final = _open_final(mode) if isinstance(mode, str) else None
        if final is not None and kwargs.get("opener") is None:
            make_private(file, final)
        return real_open(file, mode, *args, **kwargs)

    guarded_open.__doc__ = real_open.__doc__
    builtins.open = guarded_open
    io.open = guarded_open

    def wrap(name: str, final_of: Any, *positions: int) -> None:
        real = _REAL[name]

        def guarded(*args: Any, **kwargs: Any) -> Any:
            if not any(kwargs.get(k) is not None for k in ("dir_fd", "src_dir_fd", "dst_dir_fd")):
                for pos in positions:
                    if pos < len(args):
                        make_private(args[pos], final_of(args, kwargs) if pos == positions[0] else _KEEP)
            return real(*args, **kwargs)

        guarded.__name__ = name
        guarded.__doc__ = real.__doc__
        setattr(os, name, guarded)

    def os_open_final(args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
        flags = args[1] if len(args) > 1 else kwargs.get("flags", 0)
        if not flags & _WRITE_FLAGS or flags & os.O_EXCL:
            return -1
        return _EMPTY if flags & os.O_TRUNC else _COPY

    def keep(_a: tuple[Any, ...], _k: dict[str, Any]) -> int:
        return _KEEP

    def copy(_a: tuple[Any, ...], _k: dict[str, Any]) -> int:
        return _COPY

    real_os_open = _REAL["open"]

    def guarded_os_open(path: Any, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
        if dir_fd is None:
            final = os_open_final((path, flags), {})
            if final >= 0:
                make_private(path, final)
        return real_os_open(path, flags, mode, dir_fd=dir_fd)

    guarded_os_open.__doc__ = real_os_open.__doc__
    os.open = guarded_os_open
    for name in ("remove", "unlink", "rmdir", "mkdir"):
        wrap(name, keep, 0)
    for name in ("rename", "replace"):
        wrap(name, keep, 0, 1)
    for name in ("truncate", "chmod", "utime"):
        wrap(name, copy, 0)
    wrap("symlink", keep, 1)
    wrap("link", keep, 1)
    real_rmtree = _REAL["rmtree"]

    def guarded_rmtree(path: Any, *args: Any, **kwargs: Any) -> Any:
        make_private(path, _DIR)
        return real_rmtree(path, *args, **kwargs)

    guarded_rmtree.__doc__ = real_rmtree.__doc__
    guarded_rmtree.avoids_symlink_attacks = getattr(real_rmtree, "avoids_symlink_attacks", False)  # type: ignore[attr-defined]
    shutil.rmtree = guarded_rmtree  # type: ignore[assignment]
    _install_class_hooks()


def _h5py_final(mode: Any) -> int | None:
    if not isinstance(mode, str) or mode in ("w-", "x"):
        return None
    return {"w": _EMPTY, "a": _COPY, "r+": _COPY}.get(mode)


def _gfile_final(mode: Any) -> int | None:
    return _open_final(mode) if isinstance(mode, str) else None


# module -> (class attribute, name of its path parameter, of its mode parameter,
# default mode, mode -> what the final component needs)
_CLASS_HOOKS: dict[str, tuple[str, str, str, str, Any]] = {
    "h5py._hl.files": ("File", "name", "mode", "r", _h5py_final),
    "tensorflow.python.lib.io.file_io": ("FileIO", "name", "mode", "r", _gfile_final),
}


def _wrap_class(module: Any, spec: tuple[str, str, str, str, Any]) -> None:
    attr, name_param, mode_param, default_mode, final_of = spec
    cls = getattr(module, attr, None)
    if cls is None or getattr(cls.__init__, "_tfrm_guarded", False):
        return
    real_init = cls.__init__

    def guarded_init(self: Any, *args: Any, **kwargs: Any) -> None:
        path = args[0] if args else kwargs.get(name_param)
        mode = args[1] if len(args) > 1 else kwargs.get(mode_param, default_mode)
        final = final_of(mode)
        if final is not None and isinstance(path, (str, bytes, os.PathLike)):
            make_private(path, final)
        real_init(self, *args, **kwargs)

    guarded_init._tfrm_guarded = True  # type: ignore[attr-defined]
    guarded_init.__doc__ = real_init.__doc__
    cls.__init__ = guarded_init


class _HookedLoader(importlib.abc.Loader):
    def __init__(self, loader: Any, fullname: str) -> None:
        self._loader = loader
        self._fullname = fullname

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self._loader.exec_module(module)
        _wrap_class(module, _CLASS_HOOKS[self._fullname])


class _ClassHookFinder(importlib.abc.MetaPathFinder):
    """Wraps the writer classes of :data:`_CLASS_HOOKS` when their module is imported."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname not in _CLASS_HOOKS:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _HookedLoader(spec.loader, fullname)
                return spec
        return None


def _install_class_hooks() -> None:
    sys.meta_path.insert(0, _ClassHookFinder())
    for fullname, spec in _CLASS_HOOKS.items():
        if fullname in sys.modules:
            _wrap_class(sys.modules[fullname], spec)


def main(argv: list[str] | None = None) -> int:
    """Install the guard, then run the harness with ``argv``."""
    install(os.environ.get(SCRATCH_ENV) or os.getcwd())
    from tf_repro_migrate.verify import harness

    return harness.main(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
