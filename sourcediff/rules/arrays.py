"""The table of array rules: NumPy functions on whole arrays.

Elementwise operations need no entry here: an operator or function of the
scalar table applied to arrays uses that table's partials, written with
NumPy's functions (``elementwise`` below), and broadcasting is undone in
reverse mode by summing adjoints back to each argument's shape.

An array rule is declared by its primal template over the parameters
``x, y, z`` and, per parameter, a tangent term (linear in that parameter's
tangent ``dx``/``dy``/``dz``) and an adjoint contribution (from the result's
adjoint ``g``); ``ans`` is the primal result.  A *linear* rule's tangent is
the rule applied to the tangents.  An *alias* rule returns a view of ``x``:
its tangent and adjoint are the same view of ``x``'s, so writes through the
view reach the base array's derivatives too.
"""
import ast
from dataclasses import dataclass, field

import numpy as np

from .. import kinds as K

PARAMS = ("x", "y", "z")


@dataclass(frozen=True)
class ArrayRule:
    name: str
    template: str
    result: object                  # (argument kinds) -> kind of the result
    jvps: object = None             # per parameter: tangent term, or None; or (kinds) -> that
    vjps: object = None             # per parameter: adjoint contribution, or None; or (kinds) -> that
    linear: bool = False            # tangent = the rule applied to the tangents
    alias: bool = False             # the result is a view of x
    broadcast: bool = False         # contributions have the result's shape: sum them back
    forward_only: bool = False      # generated code's helpers: differentiated in forward mode only
    params: tuple = field(init=False)

    def __post_init__(self):
        expr = ast.parse(self.template, mode="eval").body
        used = {n.id for n in ast.walk(expr) if isinstance(n, ast.Name)}
        object.__setattr__(self, "params", tuple(p for p in PARAMS if p in used)
                           if not self.name.startswith(("concatenate", "stack")) else
                           tuple(sorted((u for u in used if u[0] == "x" and u[1:].isdigit()),
                                        key=lambda u: int(u[1:]))))

    @property
    def differentiable_params(self):
        """The parameters derivatives flow through."""
        if self.alias:
            return ("x",)
        if callable(self.vjps):
            return self.params
        return tuple(p for p, v in zip(self.params, self.vjps or ()) if v is not None)

    def tangent_terms(self, kinds):
        return self.jvps(kinds) if callable(self.jvps) else self.jvps

    def contributions(self, kinds):
        return self.vjps(kinds) if callable(self.vjps) else self.vjps


# ---------------------------------------------------------------- result kinds

def _array(kind):
    if not isinstance(kind, K.Array):
        raise TypeError(f"needs an array, got {kind}")
    return kind


def same_as_x(kinds):
    return _array(kinds[0])


def element_of_x(kinds):
    return "float" if _array(kinds[0]).element == "float" else "int"


def _number_or_array(kinds):
    """What a reduction takes: an array, or a number (NumPy's result for a 0-d array)."""
    return kinds[0] if kinds[0] in ("int", "float") else _array(kinds[0])


def reduced(kinds):
    """The kind of np.sum/prod/max/min of an array or a number."""
    x = _number_or_array(kinds)
    return x if x in ("int", "float") else element_of_x(kinds)


def _per_element(templates, of_number):
    """A reduction's templates for arrays, and ``of_number`` for a number (it is its own reduction)."""
    return lambda kinds: of_number if kinds[0] in ("int", "float") else templates


def float_element(kinds):
    if _array(kinds[0]).ndim == 0:
        raise TypeError("needs an array of 1 or more dimensions")
    return "float"


def mean_kind(kinds):
    _number_or_array(kinds)
    return "float"


def one_less_dim(kinds):
    x = _array(kinds[0])
    return K.Array(x.dtype, x.ndim - 1) if x.ndim > 1 else element_of_x(kinds)


def _float_dtype(kinds):
    floats = [k.dtype for k in kinds if isinstance(k, K.Array) and k.element == "float"]
    return str(np.result_type(*floats)) if floats else "float64"


def _dot_kind(kinds):
    x, y = _array(kinds[0]), _array(kinds[1])
    ndim = x.ndim + y.ndim - 2
    if not (1 <= x.ndim <= 2 and 1 <= y.ndim <= 2):
        raise TypeError("dot and @ take 1- and 2-dimensional arrays")
    return K.Array(_float_dtype(kinds), ndim) if ndim else "float"


def _outer_kind(kinds):
    return K.Array(_float_dtype(kinds), 2)


def _same_float_array(kinds):
    x = _array(kinds[0])
    return K.Array(_float_dtype(kinds), x.ndim)


def _solve_kind(kinds):
    return K.Array(_float_dtype(kinds), _array(kinds[1]).ndim)


def _transpose_kind(kinds):
    return _array(kinds[0])


def _reshape_kind(kinds):
    shape = kinds[1]
    ndim = len(shape.items) if isinstance(shape, K.Tuple) else 1
    return K.Array(_array(kinds[0]).dtype, ndim)


def _ravel_kind(kinds):
    return K.Array(_array(kinds[0]).dtype, 1)


def _where_kind(kinds):
    ndim = max((k.ndim for k in kinds if isinstance(k, K.Array)), default=0)   # 0: of numbers
    values = kinds[1:]
    if all(K.is_float(k) or k == "float" for k in values) or any(
            k == "float" or (isinstance(k, K.Array) and k.element == "float") for k in values):
        return K.Array(_float_dtype(values), ndim)
    return K.Array("int64", ndim)


def _clip_kind(kinds):
    return _same_float_array(kinds) if _array(kinds[0]).element == "float" else kinds[0]


def _concat_kind(kinds):
    first = _array(kinds[0])
    return K.Array(str(np.result_type(*[_array(k).dtype for k in kinds])), first.ndim)


def _stack_kind(kinds):
    first = _array(kinds[0])
    return K.Array(str(np.result_type(*[_array(k).dtype for k in kinds])), first.ndim + 1)


# ---------------------------------------------------------------- kind-dependent templates

def _dot_vjps(kinds):
    nx, ny = kinds[0].ndim, kinds[1].ndim
    return {(1, 1): ("g * y", "g * x"),
            (2, 1): ("np.outer(g, y)", "np.dot(x.T, g)"),
            (1, 2): ("np.dot(y, g)", "np.outer(x, g)"),
            (2, 2): ("np.dot(g, y.T)", "np.dot(x.T, g)")}[(nx, ny)]


def _solve_vjps(kinds):
    if kinds[1].ndim == 1:
        return ("-np.outer(np.linalg.solve(x.T, g), ans)", "np.linalg.solve(x.T, g)")
    return ("-np.dot(np.linalg.solve(x.T, g), ans.T)", "np.linalg.solve(x.T, g)")


def _rules(*rules):
    return {rule.name: rule for rule in rules}


RULES = _rules(
    # reductions
    ArrayRule("sum", "np.sum(x)", reduced, linear=True, vjps=("g",)),
    ArrayRule("sum_axis", "np.sum(x, axis=y)", one_less_dim, linear=True,
              vjps=("np.expand_dims(g, y)", None), broadcast=True),
    ArrayRule("mean", "np.mean(x)", mean_kind, linear=True, vjps=_per_element(("g / x.size",), ("g",))),
    ArrayRule("mean_axis", "np.sum(x, axis=y) / x.shape[y]", one_less_dim, linear=True,
              vjps=("np.expand_dims(g, y) / x.shape[y]", None), broadcast=True),
    ArrayRule("prod", "np.prod(x)", reduced, jvps=_per_element(("np.sum(_rt.prod_partials(x) * dx)",), ("dx",)),
              vjps=_per_element(("g * _rt.prod_partials(x)",), ("g",))),
    ArrayRule("max", "np.max(x)", reduced, jvps=_per_element(("_rt.flat_item(dx, np.argmax(x))",), ("dx",)),
              vjps=_per_element(("_rt.one_hot(x, np.argmax(x), g)",), ("g",))),
    ArrayRule("min", "np.min(x)", reduced, jvps=_per_element(("_rt.flat_item(dx, np.argmin(x))",), ("dx",)),
              vjps=_per_element(("_rt.one_hot(x, np.argmin(x), g)",), ("g",))),
    ArrayRule("cumsum", "np.cumsum(x)", _ravel_kind, linear=True,
              vjps=("np.cumsum(g[::-1])[::-1]",)),
    ArrayRule("norm", "np.linalg.norm(x)", float_element, jvps=("np.sum(x * dx) / ans",),
              vjps=("g * x / ans",)),
    ArrayRule("trace", "np.trace(x)", element_of_x, linear=True,
              vjps=("g * np.eye(x.shape[0], x.shape[1])",)),
    # products
    ArrayRule("dot", "np.dot(x, y)", _dot_kind, jvps=("np.dot(dx, y)", "np.dot(x, dy)"), vjps=_dot_vjps),
    ArrayRule("matmul", "x @ y", _dot_kind, jvps=("dx @ y", "x @ dy"), vjps=_dot_vjps),
    ArrayRule("outer", "np.outer(x, y)", _outer_kind, jvps=("np.outer(dx, y)", "np.outer(x, dy)"),
              vjps=("np.dot(g, y)", "np.dot(x, g)")),
    # selection
    ArrayRule("where", "np.where(x, y, z)", _where_kind,
              jvps=(None, "np.where(x, dy, 0.0)", "np.where(x, 0.0, dz)"),
              vjps=(None, "np.where(x, g, 0.0)", "np.where(x, 0.0, g)"), broadcast=True),
    ArrayRule("clip", "np.clip(x, y, z)", _clip_kind,
              jvps=("np.where((x >= y) & (x <= z), dx, 0.0)", "np.where(x < y, dy, 0.0)",
                    "np.where(x > z, dz, 0.0)"),
              vjps=("np.where((x >= y) & (x <= z), g, 0.0)", "np.where(x < y, g, 0.0)",
                    "np.where(x > z, g, 0.0)"), broadcast=True),
    # shapes: views share their base's derivatives
    ArrayRule("transpose", "x.T", _transpose_kind, alias=True),
    ArrayRule("reshape", "x.reshape(y)", _reshape_kind, alias=True),
    ArrayRule("ravel", "np.ravel(x)", _ravel_kind, linear=True, vjps=("g.reshape(x.shape)",)),
    ArrayRule("copy", "x.copy()", same_as_x, linear=True, vjps=("g",)),
    ArrayRule("expand_dims", "np.expand_dims(x, y)", lambda kinds: K.Array(_array(kinds[0]).dtype,
                                                                          kinds[0].ndim + 1), alias=True),
    # helpers of generated reverse code, so that forward mode runs over it (Hessians)
    ArrayRule("accumulate", "_rt.accumulate(x, y)", same_as_x, linear=True, vjps=("g", "g"),
              forward_only=True),
    ArrayRule("ref_tape", "_rt.ref_tape(x)", lambda kinds: K.List(kinds[0]), linear=True, vjps=("g",),
              forward_only=True),
    ArrayRule("push_ref", "_rt.push_ref(x, y)", lambda kinds: kinds[0], linear=True, vjps=("g", "g"),
              forward_only=True),
    ArrayRule("pop_ref", "_rt.pop_ref(x)", lambda kinds: kinds[0].item, linear=True, vjps=("g",),
              forward_only=True),
    ArrayRule("one_hot", "_rt.one_hot(x, y, z)", lambda kinds: K.Array("float64", _array(kinds[0]).ndim),
              linear=True, vjps=(None, None, "np.sum(g)")),
    ArrayRule("flat_item", "_rt.flat_item(x, y)", element_of_x, linear=True, vjps=("_rt.one_hot(x, y, g)", None)),
    # linear algebra
    ArrayRule("solve", "np.linalg.solve(x, y)", _solve_kind,
              jvps=("-np.linalg.solve(x, np.dot(dx, ans))", "np.linalg.solve(x, dy)"), vjps=_solve_vjps),
    ArrayRule("det", "np.linalg.det(x)", float_element,
              jvps=("ans * np.trace(np.linalg.solve(x, dx))",), vjps=("g * ans * np.linalg.inv(x).T",)),
    ArrayRule("inv", "np.linalg.inv(x)", _same_float_array,
              jvps=("-np.dot(ans, np.dot(dx, ans))",), vjps=("-np.dot(ans.T, np.dot(g, ans.T))",)),
)


# ---------------------------------------------------------------- creation

def _shape_ndim(kind):
    return len(kind.items) if isinstance(kind, K.Tuple) else 1


def _created(dtype_of):
    def result(kinds):
        return K.Array(dtype_of(kinds), _shape_ndim(kinds[0]))
    return result


def creation(name, dtype):
    """np.zeros/ones/empty (shape) and their _like forms: arrays with no derivative."""
    if name.endswith("_like"):
        def like(kinds):
            x = _array(kinds[0])
            return K.Array(dtype or x.dtype, x.ndim)
        template = f"np.{name}(x)" if dtype is None else f"np.{name}(x, np.{_np_dtype(dtype)})"
        return ArrayRule(f"{name}:{dtype}", template, like)
    return ArrayRule(f"{name}:{dtype}", f"np.{name}(x, np.{_np_dtype(dtype or 'float64')})",
                     _created(lambda kinds: dtype or "float64"))


def _np_dtype(dtype):
    return "bool_" if dtype == "bool" else dtype


def full(like, dtype):
    def result(kinds):
        if like:
            return K.Array(dtype or _array(kinds[0]).dtype, kinds[0].ndim)
        fill = kinds[1]
        return K.Array(dtype or ("float64" if fill == "float" else "int64" if fill == "int" else "bool"),
                       _shape_ndim(kinds[0]))
    fn = "full_like" if like else "full"
    template = f"np.{fn}(x, y)" if dtype is None else f"np.{fn}(x, y, np.{_np_dtype(dtype)})"
    return ArrayRule(f"{fn}:{dtype}", template, result, linear=False,
                     jvps=(None, f"np.{fn}(x, dy)" if not like else "np.full_like(x, dy, np.float64)"),
                     vjps=(None, "np.sum(g)"))


ARANGE = {n: ArrayRule(f"arange{n}", "np.arange(" + ", ".join(PARAMS[:n]) + ")",
                       lambda kinds: K.Array("float64" if "float" in kinds else "int64", 1))
          for n in (1, 2, 3)}
LINSPACE = ArrayRule("linspace", "np.linspace(x, y, z)", lambda kinds: K.Array("float64", 1),
                     jvps=("dx * (1.0 - np.linspace(0.0, 1.0, z))", "dy * np.linspace(0.0, 1.0, z)", None),
                     vjps=("np.sum(g * (1.0 - np.linspace(0.0, 1.0, z)))",
                           "np.sum(g * np.linspace(0.0, 1.0, z))", None))
EYE = {n: ArrayRule(f"eye{n}", "np.eye(" + ", ".join(PARAMS[:n]) + ")", lambda kinds: K.Array("float64", 2))
       for n in (1, 2)}


def concatenate(count):
    names = [f"x{k}" for k in range(count)]
    offsets = ["0"] + [" + ".join(f"{n}.shape[0]" for n in names[:k]) for k in range(1, count)]
    vjps = tuple(f"g[{o}:{o} + {n}.shape[0]]" for o, n in zip(offsets, names))
    return ArrayRule(f"concatenate{count}", f"np.concatenate(({', '.join(names)},))", _concat_kind,
                     linear=True, vjps=vjps)


def stack(count):
    names = [f"x{k}" for k in range(count)]
    return ArrayRule(f"stack{count}", f"np.stack(({', '.join(names)},))", _stack_kind,
                     linear=True, vjps=tuple(f"g[{k}]" for k in range(count)))


# ---------------------------------------------------------------- elementwise, from the scalar table

MATH_TO_NUMPY = {"asin": "arcsin", "acos": "arccos", "atan": "arctan", "asinh": "arcsinh",
                 "acosh": "arccosh", "atanh": "arctanh", "atan2": "arctan2", "pow": "power",
                 "fabs": "abs", "floor": "floor", "ceil": "ceil", "trunc": "trunc"}
BUILTIN_TO_NUMPY = {"abs": "np.abs", "max": "np.maximum", "min": "np.minimum", "round": "np.round",
                    "float": "np.asarray"}
RUNTIME_TO_NUMPY = {
    "indicator": "np.where(x, 1.0, 0.0)",
    "safe_log": "np.log(np.where(x > 0.0, x, 1.0))",
    "pos_inv": "1.0 / np.where(x > 0.0, x, np.inf)",
}
NO_ARRAY_FORM = {"erf", "erfc", "int", "bool", "trip_count", "round_digits"}
NOT_UFUNCS = {"float", "stop_gradient", "indicator"}     # array forms that keep a 0-d array one


class _ToNumpy(ast.NodeTransformer):
    def visit_Call(self, node):
        self.generic_visit(node)
        func = node.func
        if isinstance(func, ast.Name) and func.id in BUILTIN_TO_NUMPY:
            node.func = ast.parse(BUILTIN_TO_NUMPY[func.id], mode="eval").body
        elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            if func.value.id == "math":
                node.func = ast.Attribute(value=ast.Name("np", ast.Load()),
                                          attr=MATH_TO_NUMPY.get(func.attr, func.attr), ctx=ast.Load())
            elif func.value.id == "_rt" and func.attr in RUNTIME_TO_NUMPY:
                replacement = ast.parse(RUNTIME_TO_NUMPY[func.attr], mode="eval").body
                arg = node.args[0]

                class Put(ast.NodeTransformer):
                    def visit_Name(self, n):
                        return arg if n.id == "x" else n
                return Put().visit(replacement)
        return node

    def visit_UnaryOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, ast.Not):
            return ast.Call(func=ast.Attribute(value=ast.Name("np", ast.Load()), attr="logical_not",
                                               ctx=ast.Load()), args=[node.operand], keywords=[])
        return node


_ELEMENTWISE = {}


def elementwise(template):
    """A scalar-table template written with NumPy's functions, for array operands."""
    if template not in _ELEMENTWISE:
        tree = _ToNumpy().visit(ast.parse(template, mode="eval").body)
        _ELEMENTWISE[template] = ast.unparse(ast.fix_missing_locations(tree))
    return _ELEMENTWISE[template]


def elementwise_kind(rule, kinds):
    """The kind of a scalar rule applied elementwise to ``kinds`` (at least one an array).
    Of 0-d arrays and numbers only, a number, as NumPy and Numba give it."""
    kind = _elementwise_array(rule, kinds)
    return kind.element if kind.ndim == 0 and rule.name not in NOT_UFUNCS else kind


def _elementwise_array(rule, kinds):
    if rule.name in NO_ARRAY_FORM:
        raise TypeError(f"{rule.template.split('(')[0]} works on numbers, not arrays; "
                        "apply it element by element in a loop")
    ndim = max(k.ndim for k in kinds if isinstance(k, K.Array))
    elements = [k.element if isinstance(k, K.Array) else k for k in kinds]
    if rule.result == "bool":
        return K.Array("bool", ndim)
    float_result = rule.result in ("float", "int") or "float" in elements
    if float_result:
        return K.Array(_float_dtype(kinds), ndim)
    arrays = [k.dtype for k in kinds if isinstance(k, K.Array)]
    if rule.result == "same" or all(e == "bool" for e in elements):
        return K.Array(arrays[0], ndim)
    return K.Array("int64", ndim)
