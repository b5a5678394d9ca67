"""Generated modules: written to the cache directory and imported.

A module's file name carries a hash of its source (which holds every
function it needs, constants baked in) and of the versions of sourcediff,
Python, NumPy and Numba, so a file is never rewritten and Numba's own
on-disk cache (``njit(cache=True)``) stays valid across processes.  Where
the directory cannot be used the module is executed in memory instead.
"""
import hashlib
import importlib.util
import linecache
import os
import stat
import sys
import tempfile
import types
import warnings

import numpy as np

VERSION = "0.1.0"


def cache_dir():
    """The cache directory, created private to the user; None where unusable."""
    path = os.environ.get("SOURCEDIFF_CACHE_DIR")
    if not path:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        path = os.path.join(base, "sourcediff")
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        mode = os.stat(path).st_mode
    except OSError:
        return None
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        warnings.warn(f"sourcediff: not using cache directory {path}: other users can write to it, "
                      "and code loaded from it would run in this process; compiling in memory",
                      RuntimeWarning, stacklevel=3)
        return None
    if not os.access(path, os.W_OK):
        return None
    return path


def _versions():
    import numba
    return f"sourcediff {VERSION} python {sys.version_info[:3]} numpy {np.__version__} numba {numba.__version__}"


def load(source, stem):
    """Import ``source`` as a module, through a file in the cache directory where possible."""
    digest = hashlib.sha256((_versions() + "\n" + source).encode()).hexdigest()[:20]
    module_name = f"sd_{stem}_{digest}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    directory = cache_dir()
    if directory is not None:
        path = os.path.join(directory, module_name + ".py")
        try:
            _write_once(path, source)
            spec = importlib.util.spec_from_file_location(module_name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            spec.loader.exec_module(module)
            return module
        except OSError:
            sys.modules.pop(module_name, None)
    return _in_memory(source, module_name)


def _write_once(path, source):
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            if f.read() == source:
                return
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(source)
    os.replace(tmp, path)


def _in_memory(source, module_name):
    filename = f"<sourcediff {module_name}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    module = types.ModuleType(module_name)
    module.__file__ = filename
    sys.modules[module_name] = module
    exec(compile(source, filename, "exec"), module.__dict__)
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
            if name.startswith("sd_") or name.endswith(".tmp"):
                os.remove(os.path.join(folder, name))
                removed += 1
    return removed
