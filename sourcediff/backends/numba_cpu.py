"""The Numba backend: every generated function compiled with ``njit(cache=True)``."""
from ..errors import TransformError

HEADER = ("import math\nimport numpy as np\nfrom numba import njit\n"
          "from sourcediff.backends import numba_runtime as _rt\n")


def decorate(fn_source, cache=True):
    return ("@njit(cache=True)\n" if cache else "@njit\n") + fn_source


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
