"""Pieces both transforms use: primal statements with calls renamed."""
import ast
import copy

from .. import pytree
from ..frontend import custom_rules


def call_args_kinds(expr, types):
    return tuple(types.of(a) for a in expr.args)


def emit_primal(stmt, types, program):
    """A copy of a core statement whose calls name the program's primal functions.

    A custom function called plainly runs its body (residual targets dropped).
    """
    new = copy.deepcopy(stmt)
    for node in ast.walk(new):
        if isinstance(node, ast.Call):
            fn = getattr(node, "sd_func", None) or getattr(node, "sd_custom", None)
            if fn is not None:
                node.func = ast.Name(program.request(fn, call_args_kinds(node, types), "primal", None),
                                     ast.Load())
    if isinstance(new, ast.Assign) and getattr(new.value, "sd_residuals", 0):
        outputs = new.targets[0].elts[:-new.value.sd_residuals]
        one = len(outputs) == 1 and custom_rules.out_tree(new.value.sd_custom) in (pytree.LEAF, None)
        new.targets = [outputs[0] if one else ast.Tuple(elts=outputs, ctx=ast.Store())]
    return new


def custom_parts(expr):
    """(non-differentiable atoms, differentiable atoms) of a custom call, in order."""
    nondiff = expr.sd_custom.custom.nondiff_argnums
    pairs = list(zip(expr.args, expr.sd_positions))
    return [a for a, p in pairs if p in nondiff], [a for a, p in pairs if p not in nondiff]


def primal_function(core, types, program, fn_name):
    body = [emit_primal(s, types, program) for s in core.body]
    args = ast.arguments(posonlyargs=[], args=[ast.arg(p) for p in core.params], kwonlyargs=[],
                         kw_defaults=[], defaults=[])
    return ast.FunctionDef(name=fn_name, args=args, body=body, decorator_list=[], returns=None,
                           type_params=[])
