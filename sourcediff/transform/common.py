"""Pieces both transforms use: primal statements with calls renamed."""
import ast
import copy

from ..analysis.dataflow import op_kind, walk


def call_args_kinds(expr, types):
    return tuple(types.of(a) for a in expr.args)


def emit_primal(stmt, types, program):
    """A copy of a core statement whose calls name the program's primal functions."""
    new = copy.deepcopy(stmt)
    for node in ast.walk(new):
        if isinstance(node, ast.Call) and getattr(node, "sd_func", None) is not None:
            node.func = ast.Name(program.request(node.sd_func, call_args_kinds(node, types), "primal", None),
                                 ast.Load())
    return new


def primal_function(core, types, program, fn_name):
    body = [emit_primal(s, types, program) for s in core.body]
    args = ast.arguments(posonlyargs=[], args=[ast.arg(p) for p in core.params], kwonlyargs=[],
                         kw_defaults=[], defaults=[])
    return ast.FunctionDef(name=fn_name, args=args, body=body, decorator_list=[], returns=None,
                           type_params=[])


def core_calls(core):
    return [s.value for s in walk(core.body) if isinstance(s, ast.Assign) and op_kind(s.value) == "call"]
