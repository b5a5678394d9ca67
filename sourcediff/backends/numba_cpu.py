"""The Numba backend: every generated function compiled with ``njit(cache=True)``."""
from ..errors import TransformError

HEADER = ("import math\nimport numpy as np\nfrom numba import njit\n"
          "from sourcediff.backends import numba_runtime as _rt\n"
          "from sourcediff.backends.numba_runtime import breakpoint  # does nothing here: use backend='python'\n")


def decorate(fn_source, cache=True):
    # IEEE arithmetic (x / 0.0 is inf or nan, as in JAX and NumPy), not Python's exceptions
    options = "error_model='numpy', cache=True" if cache else "error_model='numpy'"
    return f"@njit({options})\n" + fn_source


def finish(dispatcher):
    """Wrap a dispatcher so Numba's errors reach users as TransformError."""
    from numba.core.errors import NumbaError

    def call(*args):
        try:
            return dispatcher(*args)
        except NumbaError as e:
            raise TransformError(
                f"Numba could not compile the generated code of {call.py_func.__name__} "
                f"(in {call.py_func.__code__.co_filename}); run with backend='python' to see "
                f"it run, and report it if the input is supported. Numba said:\n{_first_lines(e)}"
            ) from None
    call.py_func = getattr(dispatcher, "py_func", dispatcher)
    call.dispatcher = dispatcher
    return call


def _first_lines(error, count=12):
    import re
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(error))
    return "\n".join(text.strip().splitlines()[:count])


# ------------------------------------------------------------------ Numba's disk cache, checked
# Numba unpickles its index (.nbi) and data (.nbc) files as they are: a truncated one raises
# from inside a call (EOFError, UnpicklingError, ...), and a damaged one can abort the whole
# process in LLVM ("LLVM ERROR: can't read an entry ...", measured with Numba 0.68).  The
# dispatchers of generated modules therefore write their files with a checksum, private to the
# user, and read them only if they are the user's, unwritable by others and intact; a damaged
# file is removed and the function compiled again, with a RuntimeWarning.

_MAGIC = b"sourcediff-numba-cache 1\n"
_hardened = None


def harden(module):
    """Give the cached dispatchers of a generated module checked cache files."""
    classes = _hardened_classes()
    if classes is None:
        return
    cache_class, file_class = classes
    from numba.core.caching import FunctionCache, IndexDataCacheFile
    for value in vars(module).values():
        if getattr(getattr(value, "py_func", None), "__module__", None) != module.__name__:
            continue        # not defined here (a runtime helper imported by name): Numba's own files
        cache = getattr(value, "_cache", None)
        if type(cache) is FunctionCache and type(getattr(cache, "_cache_file", None)) is IndexDataCacheFile:
            cache._cache_file.__class__ = file_class
            cache.__class__ = cache_class


def _damaged(path, reason):
    import os
    import warnings
    warnings.warn(f"sourcediff: damaged compiled-code cache file {path} ({reason}); removed it, "
                  "compiling again", RuntimeWarning, stacklevel=2)
    try:
        os.remove(path)
    except OSError:
        pass


def _hardened_classes():
    global _hardened
    if _hardened is not None:
        return _hardened or None
    import hashlib
    import os
    import pickle
    import uuid
    import warnings
    from contextlib import contextmanager

    from numba.core import caching
    from . import modules

    needed = ("_load_index", "_save_index", "_save_data", "_open_for_write", "_dump", "_data_path", "load")
    if not all(hasattr(caching.IndexDataCacheFile, n) for n in needed) or \
            not hasattr(caching.FunctionCache, "load_overload"):
        _hardened = False       # a Numba whose cache we do not know: leave it as it is
        return None

    def wrap(payload):
        return _MAGIC + hashlib.sha256(payload).digest() + payload

    def unwrap(raw):
        head = len(_MAGIC)
        if not raw.startswith(_MAGIC) or len(raw) < head + 32:
            return None, "not a sourcediff cache file, or truncated"
        digest, payload = raw[head:head + 32], raw[head + 32:]
        if hashlib.sha256(payload).digest() != digest:
            return None, "checksum mismatch: truncated or corrupted"
        return payload, None

    class CheckedCacheFile(caching.IndexDataCacheFile):
        def _read(self, path):
            raw = modules.read_owned(path)      # None if absent; UnsafeFile if not safely ours
            if raw is None:
                return None
            payload, problem = unwrap(raw)
            if problem:
                _damaged(path, problem)
            return payload

        def _load_index(self):
            payload = self._read(self._index_path)
            if payload is None:
                return {}
            try:
                version, stamp, overloads = pickle.loads(payload)
            except Exception as e:     # a checksum over a bad pickle: written by something else
                _damaged(self._index_path, f"{type(e).__name__}: {e}")
                return {}
            if version != self._version or stamp != self._source_stamp:
                return {}
            return overloads

        def _save_index(self, overloads):
            payload = self._dump((self._version, self._source_stamp, overloads))
            with self._open_for_write(self._index_path) as f:
                f.write(wrap(payload))

        def load(self, key):
            data_name = self._load_index().get(key)
            if data_name is None:
                return None
            path = self._data_path(data_name)
            payload = self._read(path)
            if payload is None:
                return None
            try:
                return pickle.loads(payload)
            except Exception as e:
                _damaged(path, f"{type(e).__name__}: {e}")
                return None

        def _save_data(self, name, data):
            with self._open_for_write(self._data_path(name)) as f:
                f.write(wrap(self._dump(data)))

        @contextmanager
        def _open_for_write(self, filepath):
            tmp = f"{filepath}.tmp.{uuid.uuid4().hex[:16]}"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                with os.fdopen(fd, "wb") as f:
                    yield f
                os.replace(tmp, filepath)
            except BaseException:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
                raise

    class GuardedCache(caching.FunctionCache):
        def load_overload(self, sig, target_context):
            try:
                return super().load_overload(sig, target_context)
            except modules.UnsafeFile as e:
                self._refuse(e)
            except Exception as e:      # a file that passed its checksum and still will not load
                _damaged(self._cache_file._index_path, f"{type(e).__name__}: {e}")
            return None

        def save_overload(self, sig, data):
            try:
                super().save_overload(sig, data)
            except modules.UnsafeFile as e:
                self._refuse(e)
            except OSError:
                pass            # a full or read-only disk: the compiled code still runs

        def _refuse(self, error):
            name = getattr(self._py_func, "__qualname__", self._name)
            warnings.warn(f"sourcediff: not loading compiled code {os.path.basename(error.path)} for "
                          f"{name} (in {os.path.dirname(error.path)}): {error}; compiling in memory "
                          "(`python -m sourcediff cache clear` empties the cache)", RuntimeWarning, stacklevel=3)
            self.disable()

    _hardened = (GuardedCache, CheckedCacheFile)
    return _hardened
