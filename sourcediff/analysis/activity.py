"""Activity analysis: which variables carry derivatives.

A variable is *varied* when it depends differentiably on an input being
differentiated, and *useful* when an output depends differentiably on it.
Only variables that are both (and hold floats) get tangents or adjoints.
"""
import ast

from .. import kinds as K
from .dataflow import is_write, op_kind, operands, targets, walk


def differentiable_operands(expr):
    """The atoms through which derivatives flow into the value of ``expr``."""
    kind = op_kind(expr)
    atoms = operands(expr)
    if kind == "rule":
        return [a for a, p in zip(atoms, expr.sd_rule.partials) if p is not None]
    if kind in ("copy", "call"):
        return atoms
    if kind == "custom":
        nondiff = expr.sd_custom.custom.nondiff_argnums
        return [a for a, p in zip(atoms, expr.sd_positions) if p not in nondiff]
    if kind in ("read", "reserve"):
        return atoms[:1]
    if kind == "array":
        moving = expr.sd_array.differentiable_params
        return [a for p, a in zip(expr.sd_array.params, expr.sd_args) if p in moving]
    return []


def accumulated_into(expr):
    """``[bar]`` for ``_rt.accumulate(bar, g)``, which adds into ``bar`` in place (reverse
    code differentiated again); ``[]`` for any other operation."""
    if op_kind(expr) == "array" and expr.sd_array.name == "accumulate" and isinstance(expr.sd_args[0], ast.Name):
        return [expr.sd_args[0].id]
    return []


def aliases(stmt, types):
    """Whether the assignment binds a view of (or another name for) an array operand."""
    expr = stmt.value
    if not isinstance(types.env.get((targets(stmt) or [None])[0]), K.Array):
        return False
    kind = op_kind(expr)
    return kind in ("copy", "read") or (kind == "array" and expr.sd_array.alias)


def _flows(core, types, written_in_place):
    """(sources, destinations) pairs: derivatives flow from sources into destinations.

    A view and its base share their elements, so derivatives flow both ways;
    an operation that writes into arrays in place (``written_in_place``) sends its
    operands' into them.
    """
    for stmt in walk(core.body):
        if not isinstance(stmt, ast.Assign):
            continue
        sources = [a.id for a in differentiable_operands(stmt.value) if isinstance(a, ast.Name)]
        yield sources, written_in_place(stmt.value)
        if aliases(stmt, types):
            yield targets(stmt), sources
        if is_write(stmt):
            yield sources, [stmt.targets[0].value.id]
        elif op_kind(stmt.value) == "custom" and stmt.value.sd_residuals:
            yield sources, targets(stmt)[:-stmt.value.sd_residuals]       # residuals carry no derivative
        else:
            yield sources, targets(stmt)


def active_variables(core, types, active_params, written_in_place, written_params):
    """``written_in_place(expr)``: the names of the arrays an operation writes into;
    ``written_params``: the array parameters the function writes into (outputs too)."""
    flows = list(_flows(core, types, written_in_place))
    floats = {n for n, k in types.env.items() if K.is_float(k)}
    varied = set(active_params) & floats
    useful = ({a.id for a in core.outputs if isinstance(a, ast.Name)} | set(written_params)) & floats
    changed = True
    while changed:
        changed = False
        for sources, dests in flows:
            if varied.intersection(sources):
                new = (set(dests) & floats) - varied
                if new:
                    varied |= new
                    changed = True
            if useful.intersection(dests):
                new = (set(sources) & floats) - useful
                if new:
                    useful |= new
                    changed = True
    return varied & useful
