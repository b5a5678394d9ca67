"""Generated modules: written to the cache directory and imported.

A module's file name carries a hash of its source (which holds every
function it needs, constants baked in), of the runtime helpers that Numba
links into compiled code, and of the versions of sourcediff, Python, NumPy,
Numba and llvmlite, so a file is never rewritten and Numba's own on-disk
cache (``njit(cache=True)``) stays valid across processes.

Safety and robustness (see "Reliability" in the README):

* the directory must belong to the user and be writable by nobody else;
  a file in it that is not a regular file, belongs to another user or that
  others can write is refused with a warning, and the module is compiled in
  memory instead;
* the module's code is executed from the source generated in this process,
  never read back from the file (which exists for Numba's cache and for
  ``inspect``); a file that does not hold exactly that source is rewritten
  with a warning;
* Numba's index and data files get a checksum (``numba_cpu.harden``), so a
  truncated or damaged one is removed and compiled again with a warning;
* where the directory cannot be used, the module is executed in memory,
  without Numba's disk cache.
"""
import hashlib
import linecache
import os
import stat
import sys
import tempfile
import threading
import types
import warnings

import numpy as np

VERSION = "0.1.0"
CACHE_FORMAT = 2        # bumped when the layout or the checksummed file format changes

_lock = threading.RLock()   # one module object per name in a process, whatever the threads
_versions_text = None


class UnsafeFile(Exception):
    """A cache file sourcediff will not load: not ours, or writable by others; ``path`` names it."""

    def __init__(self, path, reason):
        super().__init__(reason)
        self.path = path


def cache_dir():
    """The cache directory, created private to the user; None where unusable."""
    path = os.environ.get("SOURCEDIFF_CACHE_DIR")
    if not path:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        path = os.path.join(base, "sourcediff")
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        st = os.stat(path)
    except OSError:
        return None
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        warnings.warn(f"sourcediff: not using cache directory {path}: it belongs to another user "
                      f"(uid {st.st_uid}), and code loaded from it would run in this process; "
                      "compiling in memory", RuntimeWarning, stacklevel=3)
        return None
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        warnings.warn(f"sourcediff: not using cache directory {path}: other users can write to it, "
                      "and code loaded from it would run in this process; compiling in memory",
                      RuntimeWarning, stacklevel=3)
        return None
    if not os.access(path, os.W_OK):
        return None
    try:        # Numba's directory, made private before Numba makes it with the umask's mode
        os.mkdir(os.path.join(path, "__pycache__"), 0o700)
    except OSError:
        pass
    return path


def _versions():
    """What, besides the generated source, decides the compiled code."""
    global _versions_text
    if _versions_text is None:
        import llvmlite
        import numba
        here = os.path.dirname(os.path.abspath(__file__))
        runtime = hashlib.sha256()
        # the helpers generated code calls: Numba links their compiled code into cached modules
        for path in (os.path.join(here, "numba_runtime.py"),
                     os.path.join(os.path.dirname(here), "rules", "runtime.py")):
            try:
                with open(path, "rb") as f:
                    runtime.update(f.read())
            except OSError:
                runtime.update(path.encode())
        _versions_text = (f"sourcediff {VERSION} format {CACHE_FORMAT} runtime {runtime.hexdigest()[:16]} "
                          f"python {sys.version_info[:3]} numpy {np.__version__} "
                          f"numba {numba.__version__} llvmlite {llvmlite.__version__}")
    return _versions_text


def module_name_of(source, stem):
    digest = hashlib.sha256((_versions() + "\n" + source).encode()).hexdigest()[:20]
    return f"sd_{stem}_{digest}"


def load(source, stem):
    """Import ``source`` as a module, through a file in the cache directory where possible."""
    module_name = module_name_of(source, stem)
    with _lock:
        if module_name in sys.modules:
            return sys.modules[module_name]
        directory = cache_dir()
        module = None
        if directory is not None:
            module = _from_directory(directory, module_name, source)
        if module is None:
            module = _in_memory(source, module_name)
        return module


def _from_directory(directory, module_name, source):
    path = os.path.join(directory, module_name + ".py")
    try:
        _write_once(path, source)
        st = os.stat(path)
    except UnsafeFile as e:
        warnings.warn(f"sourcediff: not loading {e.path}: {e}; compiling in memory "
                      "(`python -m sourcediff cache clear` empties the cache)", RuntimeWarning, stacklevel=4)
        return None
    except OSError:
        return None
    # The code run is the source generated here; the file is for Numba's cache and `inspect`.
    code = compile(source, path, "exec")
    linecache.cache[path] = (st.st_size, st.st_mtime, source.splitlines(True), path)
    module = types.ModuleType(module_name)
    module.__file__ = path
    sys.modules[module_name] = module
    try:
        exec(code, module.__dict__)
    except Exception:       # e.g. Numba finds no usable place for its cache: compile in memory
        sys.modules.pop(module_name, None)
        return None
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    from . import numba_cpu
    numba_cpu.harden(module)
    return module


def check_owned(path, st):
    """Raise UnsafeFile unless ``st`` (of ``path``) is a regular file of this user that others cannot write."""
    if not stat.S_ISREG(st.st_mode):
        raise UnsafeFile(path, "it is not a regular file")
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        raise UnsafeFile(path, f"it belongs to another user (uid {st.st_uid})")
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UnsafeFile(path, f"other users can write to it (mode {stat.filemode(st.st_mode)})")


def read_owned(path):
    """The bytes of ``path`` (None if absent), refusing links and files that are not safely ours."""
    try:
        # no following links, and no waiting on a FIFO: what is opened is checked with fstat
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        return None
    except OSError as e:
        if os.path.islink(path):
            raise UnsafeFile(path, "it is a symbolic link") from None
        raise e
    with os.fdopen(fd, "rb") as f:
        check_owned(path, os.fstat(f.fileno()))
        return f.read()


def _write_once(path, source):
    data = source.encode("utf-8")
    existing = read_owned(path)
    if existing == data:
        return
    if existing is not None:
        warnings.warn(f"sourcediff: cache file {path} is damaged (it does not hold the code its name "
                      "stands for); writing it again and compiling afresh", RuntimeWarning, stacklevel=5)
        _remove_compiled(os.path.dirname(path), os.path.basename(path)[:-3])
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".sd_", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise


def _remove_compiled(directory, module_name):
    pycache = os.path.join(directory, "__pycache__")
    try:
        names = os.listdir(pycache)
    except OSError:
        return
    for name in names:
        if name.startswith(module_name + "."):
            try:
                os.remove(os.path.join(pycache, name))
            except OSError:
                pass


def memory_source(source):
    """``source`` without Numba's disk cache (``cache=True`` needs a file)."""
    lines = source.split("\n")
    for i, line in enumerate(lines):
        if line.startswith("@njit(") and "cache=True" in line:
            lines[i] = line.replace(", cache=True", "").replace("cache=True, ", "").replace("cache=True", "")
    return "\n".join(lines)


def _in_memory(source, module_name):
    filename = f"<sourcediff {module_name}>"
    source = memory_source(source)
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    module = types.ModuleType(module_name)
    module.__file__ = filename
    sys.modules[module_name] = module
    try:
        exec(compile(source, filename, "exec"), module.__dict__)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module


def cache_entries(directory):
    """The generated modules in ``directory``: name, size with compiled code, first docstring line."""
    out = []
    pycache = os.path.join(directory, "__pycache__")
    compiled = os.listdir(pycache) if os.path.isdir(pycache) else []
    for name in os.listdir(directory):
        if not (name.startswith("sd_") and name.endswith(".py")):
            continue
        path = os.path.join(directory, name)
        stem = name[:-3]
        size = os.path.getsize(path) + sum(os.path.getsize(os.path.join(pycache, c))
                                           for c in compiled if c.startswith(stem + "."))
        with open(path, encoding="utf-8", errors="replace") as f:
            summary = f.readline().strip().strip('"')
        out.append({"name": stem, "bytes": size, "mtime": os.path.getmtime(path), "summary": summary})
    return out


def clear_cache(directory):
    """Remove every generated module and its compiled code; the number of files removed."""
    removed = 0
    pycache = os.path.join(directory, "__pycache__")
    for folder in (directory, pycache):
        if not os.path.isdir(folder):
            continue
        for name in os.listdir(folder):
            if name.startswith(("sd_", ".sd_")) or name.endswith(".tmp"):
                os.remove(os.path.join(folder, name))
                removed += 1
    return removed
