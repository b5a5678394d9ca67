"""Sums into new zeros become writes.

An adjoint array starts as ``np.zeros`` and takes its first contributions in a loop,
``a_bar[i] += g`` once an iteration.  While nothing else has touched it since it was
allocated, adding into its zeros is writing ``a_bar[i] = g``: one store instead of a load
and a store.  Where that loop follows the allocation directly and visits every element
(``range(v.shape[0])`` for ``a_bar = np.zeros_like(v)``, 1-d), the zeros are not needed
either: ``np.empty_like(v)``.

An adjoint refilled with zeros at the end of a loop body (``a_bar = _rt.zeroed(a_bar,
shape)``, see ``adjoint_reuse``) whose first use in the next iteration is such a loop of
writes, ``for i in range(n): a_bar[i] = g``, needs zeros beyond the first n elements
only: ``_rt.zeroed(a_bar, shape, n)`` (GradBench ode: four 8 KB fills a step fewer).
"""
import ast

from ..analysis.dataflow import parent_map, stored_names
from ..codegen import number, simplify
from ..dead_code import assigned_values, module_function

ZEROS = {("np", "zeros"), ("np", "zeros_like"), ("_rt", "zeroed")}


def write_first_sums(fn, ndims):
    """Rewrite ``fn`` in place; ``ndims`` gives the arrays' numbers of dimensions."""
    extents = {n: values[0].value.value.id for n, values in assigned_values(fn).items()
               if len(values) == 1 and _first_extent(values[0])}     # bound once, to v.shape[0]
    _block(fn.body, set(), True, (ndims, extents))
    _refill_beyond_writes(fn, ndims)


def _block(stmts, zero, rewrite, context):
    """The arrays still new zeros after ``stmts``, given those before (``zero``)."""
    zero = set(zero)
    for k, stmt in enumerate(stmts):
        if isinstance(stmt, ast.For):
            if rewrite:
                for x in sorted(zero):
                    if _sums_once(stmt, x):
                        _write(stmt, x)
                        _drop_zeros(stmts, k, x, context)
                _block(stmt.body, _loop_head(stmt, zero, context), True, context)
            zero -= _mentioned([stmt])
        elif isinstance(stmt, ast.If):
            zero -= _mentioned([stmt.test])
            zero = _block(stmt.body, zero, rewrite, context) & _block(stmt.orelse, zero, rewrite, context)
        elif isinstance(stmt, ast.While):
            if rewrite:
                _block(stmt.body, _loop_head(stmt, zero - _mentioned([stmt.test]), context), True, context)
            zero -= _mentioned([stmt])
        elif isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name) \
                and _zeros(stmt.value):
            zero = zero - _mentioned([stmt.value]) | {stmt.targets[0].id}
        else:
            zero -= _mentioned([stmt])
    return zero


def _loop_head(loop, zero, context):
    """The arrays new zeros at every start of ``loop``'s body: zeros before the loop and
    again at the end of the body."""
    head = set(zero)
    while True:
        again = head & _block(loop.body, head, False, context)
        if again == head:
            return head
        head = again


def _sums_once(loop, x):
    """Whether the only use of ``x`` in the loop is ``x[i] += e`` at its top level, ``i`` the
    loop variable (an element an iteration, each once)."""
    if not isinstance(loop.target, ast.Name) or any(
            isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store) and n.id == loop.target.id
            for s in loop.body for n in ast.walk(s)):
        return False                    # the loop variable changed inside: indices may repeat
    uses = [s for s in loop.body if x in _mentioned([s])]
    if len(uses) != 1 or any(x in _mentioned([s]) for s in loop.orelse):
        return False
    s = uses[0]
    return isinstance(s, ast.AugAssign) and isinstance(s.op, (ast.Add, ast.Sub)) and \
        isinstance(s.target, ast.Subscript) and isinstance(s.target.value, ast.Name) and \
        s.target.value.id == x and isinstance(s.target.slice, ast.Name) and \
        s.target.slice.id == loop.target.id and x not in _mentioned([s.value])


def _write(loop, x):
    for k, s in enumerate(loop.body):
        if x in _mentioned([s]):
            value = s.value if isinstance(s.op, ast.Add) else simplify(ast.UnaryOp(ast.USub(), s.value))
            loop.body[k] = ast.copy_location(ast.Assign(targets=[s.target], value=value), s)


def _drop_zeros(stmts, k, x, context):
    """``x = np.zeros_like(v)`` just before a loop over all of v's elements: ``np.empty_like``."""
    ndims, extents = context
    for j in range(k - 1, -1, -1):
        s = stmts[j]
        if x not in _mentioned([s]):
            continue
        if not (isinstance(s, ast.Assign) and isinstance(s.targets[0], ast.Name) and s.targets[0].id == x):
            return
        v = s.value.args[0] if _zeros(s.value) and s.value.func.attr == "zeros_like" else None
        if isinstance(v, ast.Name) and ndims.get(v.id) == 1 and _covers(stmts[k], v.id, extents) and \
                not any(isinstance(n, (ast.Break, ast.Return, ast.Continue)) for t in stmts[j:k + 1]
                        for n in ast.walk(t)):
            s.value.func.attr = "empty_like"
        return


def _covers(loop, v, extents):
    """Whether ``loop`` runs over range(v.shape[0]), either way."""
    e = _range_extent(loop.iter)
    return e is not None and ((_first_extent(e) and e.value.value.id == v) or
                              isinstance(e, ast.Name) and extents.get(e.id) == v)


def _first_extent(e):
    """``v.shape[0]``."""
    return isinstance(e, ast.Subscript) and isinstance(e.value, ast.Attribute) and e.value.attr == "shape" \
        and isinstance(e.value.value, ast.Name) and number(e.slice) == 0


def _zeros(value):
    """``np.zeros(...)``, ``np.zeros_like(...)`` or ``_rt.zeroed(old, shape)``."""
    return isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and \
        isinstance(value.func.value, ast.Name) and (value.func.value.id, value.func.attr) in ZEROS and \
        not (value.func.attr == "zeroed" and len(value.args) > 2)


def _mentioned(nodes):
    return {n.id for node in nodes for n in ast.walk(node) if isinstance(n, ast.Name)} - {"np", "math", "_rt"}


def _refill_beyond_writes(fn, ndims):
    """``x = _rt.zeroed(x, shape)``, the last use of x in a loop body whose first is a loop
    writing x[i] for i in range(n): ``_rt.zeroed(x, shape, n)``.  Only where x is 1-d, not
    a parameter, and used nowhere after that loop (which runs in no other loop and leaves
    no iteration early), and n is the same at the refill as at the writes."""
    parents = parent_map(fn)
    params = {a.arg for a in fn.args.args}
    for loop in [n for n in ast.walk(fn) if isinstance(n, (ast.For, ast.While))]:
        if any(isinstance(n, (ast.Break, ast.Continue, ast.Return)) for n in ast.walk(loop)):
            continue
        for refill in loop.body:
            if not (isinstance(refill, ast.Assign) and isinstance(refill.targets[0], ast.Name) and
                    isinstance(refill.value, ast.Call) and len(refill.value.args) == 2 and
                    module_function(refill.value.func, "_rt") == "zeroed"):
                continue
            x = refill.targets[0].id
            uses = [s for s in loop.body if x in _mentioned([s])]
            extent = _extent_written(uses[0], x)
            if uses[-1] is refill and len(uses) > 1 and extent is not None and ndims.get(x) == 1 and \
                    x not in params and not _mentioned([extent]) & stored_names([loop]) and \
                    not any(x in _mentioned([s]) for s in loop.orelse) and _last_use(loop, x, parents):
                refill.value.args.append(extent)


def _extent_written(loop, x):
    """n, where ``loop`` (in which the caller found no break or continue) runs over range(n),
    either way, and its one use of x is ``x[i] = e`` at its top level; else None."""
    extent = _range_extent(loop.iter) if isinstance(loop, ast.For) and isinstance(loop.target, ast.Name) \
        and not loop.orelse else None
    if extent is None:
        return None
    i = loop.target.id
    uses = [s for s in loop.body if x in _mentioned([s])]
    if len(uses) != 1 or i in stored_names(loop.body):
        return None
    s = uses[0]
    written = isinstance(s, ast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], ast.Subscript) \
        and isinstance(s.targets[0].value, ast.Name) and s.targets[0].value.id == x and \
        isinstance(s.targets[0].slice, ast.Name) and s.targets[0].slice.id == i and x not in _mentioned([s.value])
    return extent if written else None


def _range_extent(iterated):
    """n, for ``range(n)``, ``range(0, n)`` or ``range(n - 1, -1, -1)``; else None."""
    args = iterated.args if isinstance(iterated, ast.Call) and isinstance(iterated.func, ast.Name) and \
        iterated.func.id == "range" else ()
    if len(args) == 1 or len(args) == 2 and number(args[0]) == 0:
        return args[-1]
    if len(args) == 3 and number(args[1]) == -1 and number(args[2]) == -1 and \
            isinstance(args[0], ast.BinOp) and isinstance(args[0].op, ast.Sub) and number(args[0].right) == 1:
        return args[0].left
    return None


def _last_use(loop, x, parents):
    """Whether ``loop`` is in no other loop and x is used nowhere after it."""
    node, after = loop, False
    while id(node) in parents:
        parent = parents[id(node)]
        if isinstance(parent, (ast.For, ast.While)):
            return False
        for field in ("body", "orelse", "handlers", "finalbody"):
            block = getattr(parent, field, None)
            if isinstance(block, list) and node in block:
                after = after or any(x in _mentioned([s]) for s in block[block.index(node) + 1:])
        node = parent
    return not after
