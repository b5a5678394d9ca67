"""What each name in a user's function refers to."""
import ast
import builtins
import inspect
import types
from dataclasses import dataclass

import numpy as np

from ..custom import is_custom
from ..rules import runtime, scalar

ARRAY_CREATION = {id(np.empty): "empty", id(np.zeros): "zeros", id(np.ones): "ones"}
DTYPES = {id(np.float64): "float64", id(np.float32): "float32", id(np.int64): "int64",
          id(np.int32): "int32", id(np.bool_): "bool", id(float): "float64", id(int): "int64",
          id(bool): "bool"}


@dataclass(frozen=True)
class Ref:
    kind: str      # const | array | module | rule | func | builtin | create | dtype | other
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
    if id(value) in ARRAY_CREATION:
        return Ref("create", ARRAY_CREATION[id(value)])
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
