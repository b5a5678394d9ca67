"""What each name in a user's function refers to."""
import ast
import builtins
import inspect
import types
from dataclasses import dataclass

import numpy as np

from ..custom import is_custom
from ..rules import runtime, scalar

ARRAY_FUNCTIONS = {id(f): name for name, fs in {
    "sum": [np.sum], "mean": [np.mean], "prod": [np.prod], "max": [np.max, np.amax],
    "min": [np.min, np.amin], "cumsum": [np.cumsum], "dot": [np.dot], "matmul": [np.matmul],
    "outer": [np.outer], "norm": [np.linalg.norm], "trace": [np.trace], "where": [np.where],
    "clip": [np.clip], "transpose": [np.transpose], "reshape": [np.reshape], "ravel": [np.ravel],
    "copy": [np.copy], "concatenate": [np.concatenate], "stack": [np.stack],
    "solve": [np.linalg.solve], "det": [np.linalg.det], "inv": [np.linalg.inv],
    "zeros": [np.zeros], "ones": [np.ones], "empty": [np.empty], "full": [np.full],
    "zeros_like": [np.zeros_like], "ones_like": [np.ones_like], "empty_like": [np.empty_like],
    "full_like": [np.full_like], "arange": [np.arange], "linspace": [np.linspace],
    "eye": [np.eye], "array": [np.array, np.asarray], "expand_dims": [np.expand_dims],
    "accumulate": [runtime.accumulate], "ref_tape": [runtime.ref_tape], "push_ref": [runtime.push_ref],
    "pop_ref": [runtime.pop_ref], "one_hot": [runtime.one_hot], "flat_item": [runtime.flat_item],
}.items() for f in fs}
DTYPES = {id(np.float64): "float64", id(np.float32): "float32", id(np.int64): "int64",
          id(np.int32): "int32", id(np.bool_): "bool", id(float): "float64", id(int): "int64",
          id(bool): "bool"}


@dataclass(frozen=True)
class Ref:
    kind: str      # const | array | module | rule | func | builtin | array_fn | dtype | other
    value: object


def local_names(fn_node):
    """Parameters and every name the function assigns."""
    names = {a.arg for a in fn_node.args.args}
    for node in ast.walk(fn_node):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def classify(value):
    origin = getattr(getattr(value, "py_func", value), "sd_origin", None)
    if origin is not None:            # a function of a generated module stands for its origin
        value = origin
    if isinstance(value, (bool, int, float, np.bool_, np.integer, np.floating)):
        return Ref("const", value.item() if isinstance(value, np.generic) else value)
    if isinstance(value, np.ndarray):
        return Ref("array", value)
    if isinstance(value, types.ModuleType):
        return Ref("module", value)
    if id(getattr(value, "py_func", value)) in scalar.FUNCTIONS:
        return Ref("rule", getattr(value, "py_func", value))
    if getattr(value, "py_func", value) is runtime.reserve:
        return Ref("reserve", runtime.reserve)
    if id(getattr(value, "py_func", value)) in ARRAY_FUNCTIONS:
        return Ref("array_fn", ARRAY_FUNCTIONS[id(getattr(value, "py_func", value))])
    if id(value) in DTYPES:
        return Ref("dtype", DTYPES[id(value)])
    if value is builtins.range or value is builtins.len:
        return Ref("builtin", value.__name__)
    if is_custom(value):
        return Ref("custom", value)
    if inspect.isfunction(getattr(value, "py_func", value)) or hasattr(value, "sd_python_function") \
            or hasattr(value, "sd_source"):
        return Ref("func", value)
    return Ref("other", value)


def resolve(node, source, local):
    """The Ref of a Name or a module attribute chain not bound locally, else None."""
    if isinstance(node, ast.Name):
        if node.id in local:
            return None
        try:
            return classify(source.lookup(node.id))
        except KeyError:
            return Ref("undefined", node.id)
    if isinstance(node, ast.Attribute):
        base = resolve(node.value, source, local)
        if base is None or base.kind != "module":
            return None
        try:
            return classify(getattr(base.value, node.attr))
        except AttributeError:
            return Ref("undefined", f"{base.value.__name__}.{node.attr}")
    return None
