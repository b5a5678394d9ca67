"""Pieces both transforms use: primal statements with calls renamed, array operations."""
import ast
import copy

from .. import kinds as K
from .. import pytree
from ..analysis.dataflow import op_kind
from ..codegen import simplify
from ..frontend import custom_rules
from ..frontend.nodes import instantiate
from ..frontend.normalize import name
from ..rules import arrays


def call_args_kinds(expr, types):
    return tuple(types.of(a) for a in expr.args)


def emit_primal(stmt, types, program):
    """A copy of a core statement whose calls name the program's primal functions.

    A custom function called plainly runs its body (residual targets dropped).
    """
    new = copy.deepcopy(stmt)
    assignments = [node for node in ast.walk(new) if isinstance(node, ast.Assign)]   # nested ones too
    for node in assignments:
        if op_kind(node.value) == "rule" and on_arrays(node.value, types):
            node.value = instantiate(arrays.elementwise(node.value.sd_rule.template),
                                     dict(zip(node.value.sd_rule.params, node.value.sd_args)))
    for node in ast.walk(new):
        if isinstance(node, ast.Call):
            fn = getattr(node, "sd_func", None) or getattr(node, "sd_custom", None)
            if fn is not None:
                kinds = call_args_kinds(node, types)
                node.func = ast.Name(program.request(fn, kinds, "primal", None), ast.Load())
                # for dead-code elimination: a call that writes no argument changes nothing
                node.sd_pure = getattr(node, "sd_func", None) is not None and not program.writes_arguments(fn, kinds)
    for node in assignments:
        if getattr(node.value, "sd_residuals", 0):
            outputs = node.targets[0].elts[:-node.value.sd_residuals]
            one = len(outputs) == 1 and custom_rules.out_tree(node.value.sd_custom) in (pytree.LEAF, None)
            node.targets = [outputs[0] if one else ast.Tuple(elts=outputs, ctx=ast.Store())]
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


def on_arrays(expr, types):
    """Whether a rule of the scalar table is applied to arrays (elementwise)."""
    return any(isinstance(types.of(a), K.Array) for a in expr.sd_args)


def partial_template(expr, k, types):
    """The partial derivative of a rule with respect to its ``k``-th operand, as a template."""
    partial = expr.sd_rule.partials[k]
    if partial is not None and on_arrays(expr, types):
        return arrays.elementwise(partial)
    return partial


def array_mapping(expr):
    """Template names of an array rule mapped to its operand atoms."""
    return dict(zip(expr.sd_array.params, expr.sd_args))


def mentions_array(node, types):
    return any(isinstance(n, ast.Name) and isinstance(types.env.get(n.id), (K.Array, K.List))
               for n in ast.walk(node))


def aug(target, op, value):
    return ast.AugAssign(target=name(target, ast.Store()), op=op, value=value)


def add_to(target, value):
    """``target += value``."""
    return aug(target, ast.Add(), simplify(value))


def np_call(fn, *args):
    """``np.fn(*args)``."""
    return ast.Call(func=ast.Attribute(value=name("np"), attr=fn, ctx=ast.Load()), args=list(args), keywords=[])


def rt_attr(fn):
    """``_rt.fn``, a runtime helper."""
    return ast.Attribute(value=name("_rt"), attr=fn, ctx=ast.Load())


def method_of(node, method):
    """``node.method()``."""
    return ast.Call(func=ast.Attribute(value=node, attr=method, ctx=ast.Load()), args=[], keywords=[])
