"""sd.vectorize: a NumPy ufunc of a scalar function or of a transformed one, built by numba.vectorize."""
import inspect

from . import pytree
from .api import Transformed, guess_kinds

TARGETS = ("cpu", "parallel", "cuda")
NUMBA_TYPES = {"float": "float64", "int": "int64", "bool": "boolean"}


def vectorize(fun, *, target="cpu"):
    """A ufunc applying ``fun`` elementwise over arrays, with NumPy's broadcasting.

    ``fun`` is a plain scalar function, a transform of one (``sd.grad(f)``,
    ``sd.jit(f)``) or a device function made by ``backend='cuda'``; it must
    return one scalar.  Argument types come from the source as for device
    functions (annotations, defaults, use; float otherwise).  ``target`` is
    Numba's: "cpu", "parallel" (threads) or "cuda" (a GPU ufunc).
    """
    if target not in TARGETS:
        raise ValueError(f"vectorize: unknown target {target!r}; choose one of {', '.join(TARGETS)}")
    fun = getattr(fun, "sd_transformed", fun)      # a device function: what it was built from
    backend = "cuda" if target == "cuda" else "numba"
    if isinstance(fun, Transformed):
        transformed = Transformed(fun.fn, fun.mode, fun.argnums, fun.has_aux, backend, fun.max_trips)
    else:
        transformed = Transformed(fun, "jit", backend=backend)
    kinds = guess_kinds(transformed.fn)
    name = getattr(transformed.fn, "__name__", "the function")
    for param, kind in zip(inspect.signature(transformed.fn).parameters, kinds):
        if kind not in NUMBA_TYPES:
            raise TypeError(f"vectorize maps scalar arguments; `{param}` of {name} is {kind}")
    if backend == "cuda":
        transformed.device_function()       # a clear error if numba-cuda is missing
    entry = transformed.entry(kinds)
    if entry.tree is not pytree.LEAF:
        raise TypeError(f"vectorize needs a function with one scalar result; the {transformed.mode} of "
                        f"{name} returns {entry.tree!r}: vectorize each part separately")
    result = entry.outputs[0] if transformed.mode == "jit" else "float"
    if result not in NUMBA_TYPES:
        raise TypeError(f"vectorize needs a function with one scalar result; {name} returns {result}")
    signature = f"{NUMBA_TYPES[result]}({', '.join(NUMBA_TYPES[k] for k in kinds)})"
    import numba
    if target == "cuda" and numba.config.ENABLE_CUDASIM:
        from .backends.simulated_ufunc import SimulatedUfunc     # the simulator has no vectorize
        return SimulatedUfunc(entry.function, [NUMBA_TYPES[k] for k in kinds], NUMBA_TYPES[result])
    return numba.vectorize([signature], target=target)(transformed.sd_python_function(kinds))

