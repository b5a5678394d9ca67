"""Dead-code elimination for generated functions.

Reverse and forward code carry statements whose results nothing reads: a
callee's VJP recomputes a result its caller already has, a recomputed loop
bound after the last loop that used it.  This pass removes, until none is left:

* ``x = e`` where nothing reads ``x`` and evaluating ``e`` changes nothing, where reads
  in ``x``'s own updates (``x = x + e``, ``x += e``) do not count if no other name shares
  what ``x`` holds (a sum only a VJP's discarded value needed); a call of a generated
  primal function that writes none of its arguments (marked ``sd_pure``) changes nothing;
* writes into a fresh array (``a[i] = e``, ``a[i] += e``, ``a += e``) whose
  elements nothing reads, only its shape (``a.shape``, ``np.zeros_like(a)``);
* ``for`` loops over ``range`` whose body has become empty, and ``if`` statements
  whose branches both have.

A fresh array is a local bound only to new arrays (``np.empty(...)``,
``np.zeros_like(...)``, ``b.copy()``, ...) or numbers, so no other name sees
its elements.  The analysis is by name, not by program point: a name read
anywhere counts as read everywhere.

First, a length of an array allocated with a shape in numbers is that number,
so that the allocation may go when nothing else reads the array.
"""
import ast

from .analysis.dataflow import parent_map
from .codegen import blocks

ALLOCATIONS = {"empty", "zeros", "ones", "full", "empty_like", "zeros_like", "ones_like", "full_like",
               "arange", "linspace", "eye"}
SHAPE_ONLY_CALLS = {"empty_like", "zeros_like", "ones_like", "full_like"}   # np.f(a): a's shape and dtype
SHAPE_ATTRIBUTES = {"shape", "size", "ndim", "dtype"}
PURE_BUILTINS = {"abs", "min", "max", "float", "int", "bool", "round", "len", "range"}


def prune(fn):
    _fold_fixed_shapes(fn)
    while _prune_once(fn):
        pass
    return fn


def _fold_fixed_shapes(fn):
    """``a.shape[d]`` -> the number, where ``a`` is bound once, to an allocation whose length
    ``d`` is written out as a number (``np.empty(2)``, ``np.zeros((3, n))``)."""
    fixed = {n: [d.value if isinstance(d, ast.Constant) and type(d.value) is int else None for d in dims]
             for n, dims in allocated_lengths(fn).items()}

    class Fold(ast.NodeTransformer):
        def visit_Subscript(self, node):
            self.generic_visit(node)
            array, d = shape_index(node) or (None, None)
            lengths = fixed.get(array, [])
            if array is not None and -len(lengths) <= d < len(lengths) and lengths[d] is not None:
                return ast.copy_location(ast.Constant(lengths[d]), node)
            return node
    Fold().visit(fn)


def shape_index(node):
    """(a, d) where ``node`` is ``a.shape[d]``, d a number; else None."""
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) and node.value.attr == "shape" \
            and isinstance(node.value.value, ast.Name) and isinstance(node.slice, ast.Constant) \
            and type(node.slice.value) is int:
        return node.value.value.id, node.slice.value
    return None


def allocated_lengths(fn):
    """Array name -> the lengths of the allocation (``np.empty``, ``zeros``, ``ones``, ``full``) it
    is bound to, where it is a local bound once and no loop's variable; writing into its
    elements leaves it those lengths."""
    excluded = {a.arg for a in fn.args.args} | loop_targets(fn)
    out = {}
    for n, values in assigned_values(fn).items():
        if n in excluded or len(values) != 1 or not isinstance(values[0], ast.Call) or \
                np_function(values[0].func) not in ("empty", "zeros", "ones", "full") or not values[0].args:
            continue
        shape = values[0].args[0]
        out[n] = shape.elts if isinstance(shape, ast.Tuple) else [shape]
    return out


def loop_targets(fn):
    """The names ``for`` loops in ``fn`` bind."""
    return {n.id for loop in ast.walk(fn) if isinstance(loop, ast.For)
            for n in ast.walk(loop.target) if isinstance(n, ast.Name)}


def _prune_once(fn):
    params = {a.arg for a in fn.args.args}
    refs, value_reads, bindings, own = _uses(fn)
    fresh = {n for n, values in bindings.items() if n not in params and all(map(new_value, values))}
    refs |= own - fresh        # updating a name another may share (a view, a parameter) is a use
    value_reads |= own - fresh

    def dead(stmt):
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target = stmt.targets[0]
            if isinstance(target, ast.Name):
                return target.id not in refs and removable(stmt.value)
            return _unread_fresh(target, fresh, value_reads) and removable(stmt.value) and _pure_index(target)
        if isinstance(stmt, ast.AugAssign):
            return _unread_fresh(stmt.target, fresh, value_reads) and removable(stmt.value) and \
                _pure_index(stmt.target)
        if isinstance(stmt, ast.For):
            return empty(stmt.body) and not stmt.orelse and \
                isinstance(stmt.target, ast.Name) and stmt.target.id not in refs and removable(stmt.iter)
        if isinstance(stmt, ast.If):
            return empty(stmt.body) and empty(stmt.orelse) and removable(stmt.test)
        return False

    changed = False
    for block in blocks(fn):
        kept = [s for s in block if not dead(s)]
        if len(kept) < len(block):
            block[:] = kept or [ast.Pass()]
            changed = True
    return changed


def empty(body):
    return all(isinstance(s, ast.Pass) for s in body)


def _unread_fresh(target, fresh, value_reads):
    base = target.value if isinstance(target, ast.Subscript) else target
    return isinstance(base, ast.Name) and base.id in fresh and base.id not in value_reads


def _pure_index(target):
    return not isinstance(target, ast.Subscript) or removable(target.slice)


def _uses(fn):
    """(names read anywhere, names whose elements or value are read, name -> the values bound to it,
    names read only to compute new values of themselves: ``s = s + e``, ``s += e``, e pure)."""
    parents = parent_map(fn)
    refs, value_reads, bindings, own = set(), set(), assigned_values(fn), set()
    for node in ast.walk(fn):
        if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            own.add(node.target.id) if removable(node.value) else refs.add(node.target.id)  # the binding stays
        elif isinstance(node, ast.For) and isinstance(node.target, ast.Name):
            bindings.setdefault(node.target.id, []).append(None)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            if _loop_variable_of_enclosing_loop(node, parents):
                continue                    # bound there, whatever ran before
            if _updates_itself(node, parents):
                own.add(node.id)
                continue
            refs.add(node.id)
            if not _reads_only_shape_or_writes(node, parents):
                value_reads.add(node.id)
    return refs, value_reads, bindings, own - refs


def _updates_itself(node, parents):
    """Whether the read ``node`` is in the pure value of an assignment to its own name."""
    stmt = parents.get(id(node))
    while stmt is not None and not isinstance(stmt, ast.stmt):
        stmt = parents.get(id(stmt))
    if isinstance(stmt, ast.Assign):
        targets = stmt.targets
    elif isinstance(stmt, ast.AugAssign):
        targets = [stmt.target]
    else:
        return False
    return all(isinstance(t, ast.Name) and t.id == node.id for t in targets) and removable(stmt.value)


def assigned_values(tree):
    """Name -> the values assignments in ``tree`` bind to it (None for a tuple's element)."""
    bindings = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                for n in ast.walk(target):
                    if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                        bindings.setdefault(n.id, []).append(node.value if target is n else None)
    return bindings


def _loop_variable_of_enclosing_loop(node, parents):
    child, parent = node, parents.get(id(node))
    while parent is not None:
        if isinstance(parent, ast.For) and any(child is s for s in parent.body) and \
                isinstance(parent.target, ast.Name) and parent.target.id == node.id:
            return True
        child, parent = parent, parents.get(id(parent))
    return False


def _reads_only_shape_or_writes(node, parents):
    parent = parents.get(id(node))
    if isinstance(parent, ast.Subscript) and parent.value is node and isinstance(parent.ctx, ast.Store):
        return True                     # the array a write goes into
    if isinstance(parent, ast.Attribute) and parent.attr in SHAPE_ATTRIBUTES:
        return True
    return isinstance(parent, ast.Call) and parent.args and parent.args[0] is node and (
        np_function(parent.func) in SHAPE_ONLY_CALLS or
        (isinstance(parent.func, ast.Name) and parent.func.id == "len"))


def new_value(value):
    """Whether a bound value is a new array or a number: nothing else shares its elements."""
    if isinstance(value, (ast.Constant, ast.BinOp, ast.UnaryOp, ast.Compare)):
        return True
    if not isinstance(value, ast.Call):
        return False
    if np_function(value.func) in ALLOCATIONS or module_function(value.func, "_rt") == "zeroed":
        return True      # the generator writes ``a = _rt.zeroed(a, shape)`` only: a, or a new array
    return isinstance(value.func, ast.Attribute) and value.func.attr == "copy" and not value.args


def module_function(func, module):
    """``f`` where ``func`` is ``module.f`` (``np.zeros``, ``_rt.reserve``), else None."""
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == module:
        return func.attr
    return None


def np_function(func):
    return module_function(func, "np")


def removable(expr):
    return pure(expr, helpers=True)


def pure(expr, helpers=False):
    """Whether evaluating ``expr`` changes nothing: no call but NumPy's, math's, a copy and
    builtins, and, where ``helpers``, generated primal functions that write none of their
    arguments (which other passes must not take as cheap to compute again)."""
    for node in ast.walk(expr):
        if isinstance(node, (ast.NamedExpr, ast.Await, ast.Yield, ast.YieldFrom, ast.Lambda)):
            return False
        if isinstance(node, ast.Call):
            func = node.func
            if helpers and getattr(node, "sd_pure", False):
                continue
            if isinstance(func, ast.Name) and func.id in PURE_BUILTINS:
                continue
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and \
                    func.value.id in ("np", "math"):
                continue
            if isinstance(func, ast.Attribute) and func.attr == "copy" and not node.args:
                continue
            return False
    return True
