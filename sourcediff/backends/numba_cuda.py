"""The CUDA backend: every generated function becomes a numba.cuda device function.

The transforms generate the same code as for the CPU; ``cuda_lower``
rewrites each function for the CUDA target.  The entry function is a device
function too, and returns its results nested as the transform's results are
(``(value, (gx, gy))`` for ``value_and_grad`` with two argnums), so a user's
kernel calls it like the original function.  numba.cuda is imported only by
the generated module, so sourcediff imports without numba-cuda.
"""
import ast

from .. import pytree
from ..errors import error_at
from . import cuda_lower

HEADER = ("import math\nfrom numba import cuda, float64, int64\n"
          "from sourcediff.backends import numba_cuda_runtime as _rt\n"
          "from sourcediff.backends.numba_cuda_runtime import breakpoint  # does nothing on a GPU\n")


def require():
    """Raise ImportError, saying how to install it, unless numba-cuda is installed."""
    try:
        import numba_cuda  # noqa: F401  (NVIDIA's CUDA target; Numba's own numba.cuda is deprecated)
    except ImportError:
        raise ImportError("backend='cuda' needs the numba-cuda package: pip install 'numba-cuda[cu13]' "
                          "(or pip install -e '.[cuda]' in a sourcediff checkout)") from None


def decorate(fn_source, cache=True):
    return "@cuda.jit(device=True)\n" + fn_source


def finish(device_function):
    if not hasattr(device_function, "py_func"):      # the simulator's device functions have none
        device_function.py_func = device_function.fn
    return device_function


def prepare(program, functions, entry, tree, max_trips):
    """(functions rewritten for device code, name of the entry) for a built ``program``."""
    if program.recursive:
        core = functions[0].sd_core
        raise error_at(core.source.node, core.source,
                       f"{core.name} is recursive (directly or through the functions it calls), and "
                       "backend='cuda' compiles no recursive device functions; write it with a loop")
    entry_def = next(fn for fn in functions if fn.name == entry)
    hand_built = getattr(entry_def, "sd_python_only", False)     # an entry wrapper api.py made
    for fn in functions:
        cuda_lower.lower(fn, max_trips)
        fn.sd_python_only = False        # on the GPU the entry is device code too
    if pytree.is_flat(tree):
        return functions, entry          # flat already
    if hand_built:
        entry_def.body[-1].value = _nest(tree, iter(entry_def.body[-1].value.elts))
        return functions, entry
    wrapper = _nesting_wrapper(program.unique(f"{entry}_nested"), entry_def, tree)
    return functions + [wrapper], wrapper.name


def _nest(tree, flat):
    """The leaves ``flat`` nested as ``tree``, its containers all tuples in device code."""
    if tree is pytree.LEAF:
        return next(flat)
    return ast.Tuple([_nest(t, flat) for t in tree.children], ast.Load())


def _nesting_wrapper(name, callee, tree):
    """``def name(params): r0, r1, ... = callee(params); return <r nested as tree>``."""
    params = [a.arg for a in callee.args.args]
    results = [f"_r{i}" for i in range(pytree.num_leaves(tree))]
    target = ast.Tuple([ast.Name(r, ast.Store()) for r in results], ast.Store())
    call = ast.Call(ast.Name(callee.name, ast.Load()), [ast.Name(p, ast.Load()) for p in params], [])
    body = [ast.Assign([target], call),
            ast.Return(_nest(tree, iter(ast.Name(r, ast.Load()) for r in results)))]
    args = ast.arguments(posonlyargs=[], args=[ast.arg(p) for p in params], kwonlyargs=[],
                         kw_defaults=[], defaults=[])
    fn = ast.FunctionDef(name=name, args=args, body=body, decorator_list=[], returns=None, type_params=[])
    return ast.fix_missing_locations(fn)
