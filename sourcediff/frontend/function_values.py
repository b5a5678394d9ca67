"""Function values in user code: lambdas, closures, ``functools.partial``, functions passed
as arguments, and transforms (``sd.grad(g)``, ``sd.vjp(g, x)``, ...) applied inside
differentiated code.

A function value is a pytree node (``structured.py`` flattens it like a tuple): its type is
a ``Function`` naming the code that runs, its children are the values it holds (what a
lambda captures from the enclosing function, a partial's arguments), which go first when
it is called.  A callee given a function is then specialised per function, as for any
pytree structure, and what the function holds arrives as ordinary inputs, differentiated
like any other.  A transform applied in code becomes a call of a ``Transformed`` of the
function flattened for its arguments; the generated code, inside the accepted subset, is
transformed again by the enclosing transform (DESIGN.md, invariant 1).
"""
import ast
import functools
from dataclasses import dataclass

from .. import pytree as T
from .parse import BoundSource, Synthetic
from .resolve import DTYPES, classify

TRANSFORMS = ("grad", "value_and_grad", "jacfwd", "jacrev", "hessian", "jvp", "vjp", "jit")
FUNCTION_MODES = ("grad", "value_and_grad", "jacfwd", "jacrev")     # transforms giving a function


@dataclass(frozen=True)
class Function:
    """The type of a function value: ``target`` runs, given the node's children first."""
    target: object      # a function, a Synthetic, a custom function, a rule, or a Nested

    @property
    def name(self):
        if isinstance(self.target, Nested):
            return f"{self.target.mode}_{self.target.fun.name}"
        return getattr(self.target, "__name__", "f").replace("<lambda>", "lambda")

    def __repr__(self):
        return f"<function {self.name}>"


@dataclass(frozen=True)
class Nested:
    """A transform applied in code: ``mode`` of ``fun`` (a Function).  ``argnums`` counts
    from the first argument after the values the function value holds; for ``vjp`` it
    counts the primals, which come last, just before the cotangent."""
    mode: str
    fun: Function
    argnums: object
    has_aux: bool = False


def node(target, children=()):
    return T.Node(Function(target), (), tuple(children))


def is_function(tree):
    return isinstance(tree, T.Node) and isinstance(tree.type, Function)


def holds_function(tree):
    return isinstance(tree, T.Node) and (is_function(tree) or any(map(holds_function, tree.children)))


def of_value(value):
    """The function node of a Python value used as a function (None for other values)."""
    value = getattr(value, "sd_transformed", value)
    if hasattr(value, "sd_arity"):          # a transform this module made: called on leaves already
        return None
    if isinstance(value, Nested):
        return node(value)
    if isinstance(value, functools.partial):
        inner = of_value(value.func)
        if inner is None or value.keywords:
            return None
        args = [of_value(a) or _constant(a) for a in value.args]
        return None if None in args else T.Node(inner.type, (), inner.children + tuple(args))
    if getattr(value, "mode", None) in FUNCTION_MODES + ("jit",) and hasattr(value, "sd_python_function"):
        inner = of_value(value.fn)
        argnums = value.argnums if isinstance(value.argnums, int) else tuple(value.argnums)
        return inner if value.mode == "jit" else node(Nested(value.mode, inner.type, argnums, value.has_aux))
    if id(value) in DTYPES:
        return None
    kind = classify(value).kind
    if kind in ("func", "custom", "rule", "array_fn") and not hasattr(value, "sd_python_function"):
        return node(value)
    return None


def _constant(value):
    if isinstance(value, (bool, int, float)):
        return ast.Constant(value)
    return None


def transform_of(value):
    """The mode of ``value`` if it is one of sourcediff's transforms (``sd.grad``, ...)."""
    from .. import api          # the transforms call the pipeline this module is part of
    for mode in TRANSFORMS:
        if value is getattr(api, mode):
            return mode
    return None


_lifted = {}


def lift(source, lam, captured):
    """The lambda ``lam`` of ``source`` as a function taking ``captured`` first."""
    key = (source, lam, tuple(captured))
    if key not in _lifted:
        params = [ast.arg(c) for c in captured] + list(lam.args.args)
        fn_node = ast.FunctionDef(name=f"lambda_{lam.lineno}", args=ast.arguments(
            posonlyargs=[], args=params, kwonlyargs=[], kw_defaults=[], defaults=[]),
            body=[ast.copy_location(ast.Return(value=lam.body), lam)], decorator_list=[],
            returns=None, type_params=[])
        ast.copy_location(fn_node, lam)
        bound = BoundSource(source.fn, ast.fix_missing_locations(fn_node), source.filename,
                            getattr(source, "bindings", {}))
        _lifted[key] = Synthetic(bound, f"lambda of line {lam.lineno}")
    return _lifted[key]


def captured_names(lam, local):
    """The enclosing function's names a lambda reads, in order of first use."""
    params = {a.arg for a in lam.args.args}
    out = []
    for n in ast.walk(lam.body):
        if isinstance(n, ast.Name) and n.id in local and n.id not in params and n.id not in out:
            out.append(n.id)
    return out


_callers = {}


def python_callable(target, count):
    """A function the flattener can read that calls ``target`` with ``count`` arguments."""
    if classify(target).kind == "func" and not hasattr(target, "sd_python_function"):
        return target
    key = (target, count)
    if key not in _callers:
        params = [f"_a{i}" for i in range(count)]
        name = Function(target).name
        text = f"def {name}({', '.join(params)}):\n    return _target({', '.join(params)})\n"
        fn_node = ast.parse(text).body[0]
        # the caller reads only ``_target``, bound here; any function serves for the rest
        _callers[key] = Synthetic(BoundSource(python_callable, fn_node, "<sourcediff>", {"_target": target}),
                                  f"call of {name}")
    return _callers[key]


_transformed = {}


def transformed(mode, fn, positions, has_aux, tree, seeds):
    """The ``Transformed`` a transform in code calls, once per (mode, function, positions):
    it returns the leaves of ``tree`` and takes ``seeds`` tangents or cotangents last."""
    from ..api import Transformed
    key = (mode, fn, positions, has_aux)
    if key not in _transformed:
        t = Transformed(fn, mode, positions, has_aux, backend="python")
        t.sd_arity, t.sd_seeds = T.num_leaves(tree), seeds
        _transformed[key] = t
    return _transformed[key]
