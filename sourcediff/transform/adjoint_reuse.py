"""An adjoint made again for the binding before is the old array refilled with zeros.

The backward sweep gives a rebound array's adjoint new zeros at each binding it goes
back to (``k_bar = np.zeros(_rt.pop_ref(_k_shapes), np.float64)``), an allocation an
iteration of an integrator's step loop.  Where nothing but the adjoint's own name holds
its array, ``_rt.zeroed(k_bar, shape)`` refills that array when the shape is the same
(GradBench ode: 400 allocations a gradient fewer).  A name holds its array alone when it
is bound only to new arrays and read only where nothing keeps a reference: elements,
shapes, operands of arithmetic, sums, and arguments of calls whose results are dropped
(the VJPs of helpers, which add into them and return nothing).
"""
import ast

from ..analysis.dataflow import parent_map
from ..dead_code import assigned_values, module_function, new_value, np_function


def reuse_adjoints(fn):
    candidates = {t.id for s in ast.walk(fn) if isinstance(s, ast.Assign) and len(s.targets) == 1
                  for t in s.targets if isinstance(t, ast.Name) and _made_again(s.value)}
    if not candidates:
        return
    values = assigned_values(fn)
    parents = parent_map(fn)
    alone = {n for n in candidates if _held_alone(fn, n, values[n], parents)}
    for s in ast.walk(fn):
        if isinstance(s, ast.Assign) and isinstance(s.targets[0], ast.Name) and s.targets[0].id in alone \
                and _made_again(s.value):
            popped = s.value.args[0]
            s.value = ast.Call(ast.Attribute(ast.Name("_rt", ast.Load()), "zeroed", ast.Load()),
                               [ast.Name(s.targets[0].id, ast.Load()), popped], [])


def _made_again(value):
    """``np.zeros(_rt.pop_ref(list), dtype)``."""
    return isinstance(value, ast.Call) and np_function(value.func) == "zeros" and len(value.args) == 2 \
        and isinstance(value.args[0], ast.Call) and module_function(value.args[0].func, "_rt") == "pop_ref"


def _held_alone(fn, var, values, parents):
    """Whether ``var``, bound to ``values``, is the only name holding its array."""
    if not all(v is not None and (new_value(v) or _adds_into(v, var)) for v in values):
        return False
    for n in ast.walk(fn):
        if isinstance(n, ast.Name) and n.id == var and isinstance(n.ctx, ast.Load) and \
                not _keeps_nothing(n, parents):
            return False
    return True


def _keeps_nothing(n, parents):
    parent = parents.get(id(n))
    if isinstance(parent, ast.Subscript) and parent.value is n or \
            isinstance(parent, ast.Attribute) and parent.attr in ("shape", "size", "ndim", "dtype"):
        return True
    if isinstance(parent, (ast.BinOp, ast.UnaryOp, ast.Compare)):
        return True         # a new array or number
    if isinstance(parent, ast.Call):
        statement = parents.get(id(parent))
        return np_function(parent.func) == "sum" or isinstance(statement, ast.Expr) or \
            parent.args[0] is n and isinstance(statement, ast.Assign) and _adds_into(parent, n.id) and \
            isinstance(statement.targets[0], ast.Name) and statement.targets[0].id == n.id
    return False


def _adds_into(value, var):
    """``_rt.accumulate(var, g)``, which adds into ``var`` and gives it back."""
    return isinstance(value, ast.Call) and module_function(value.func, "_rt") == "accumulate" and \
        isinstance(value.args[0], ast.Name) and value.args[0].id == var
