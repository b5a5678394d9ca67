"""The table of scalar derivative rules.

A primitive is declared once, by its primal template and one partial
derivative per parameter (``None`` where the derivative is zero), written as
Python source over the parameter names and ``ans`` (the primal result).
Forward mode emits ``ans_dot = sum(partial_i * arg_i_dot)``; reverse mode
emits ``arg_i_bar += ans_bar * partial_i``.  ``tests/test_rules.py`` walks
the whole table against central finite differences.
"""
import ast
import builtins
import math
from dataclasses import dataclass, field

import numpy as np

from . import runtime

LOG2 = "0.6931471805599453"
LOG10 = "2.302585092994046"
TWO_OVER_SQRT_PI = "1.1283791670955126"


@dataclass(frozen=True)
class Rule:
    name: str
    template: str                 # primal, e.g. "math.sin(x)"
    partials: tuple               # per parameter: source template or None
    result: str = "float"         # float | int | bool | join | same
    domain: tuple = (-2.0, 2.0)   # where the table test samples each argument
    kinks: tuple = ()             # expressions that must stay away from 0 when sampled
    params: tuple = field(init=False)

    def __post_init__(self):
        expr = ast.parse(self.template, mode="eval").body
        names = [n.id for n in ast.walk(expr) if isinstance(n, ast.Name)]
        params = tuple(dict.fromkeys(n for n in names if n in ("x", "y", "b")))
        object.__setattr__(self, "params", params)

    @property
    def differentiable(self):
        return any(p is not None for p in self.partials)


def _rules(*rules):
    return {rule.name: rule for rule in rules}


def unary(name, template, partial, **kw):
    return Rule(name, template, (partial,), **kw)


def binary(name, template, dx, dy, **kw):
    return Rule(name, template, (dx, dy), **kw)


RULES = _rules(
    # operators
    binary("add", "x + y", "1", "1", result="join"),
    binary("sub", "x - y", "1", "-1", result="join"),
    binary("mult", "x * y", "y", "x", result="join"),
    binary("div", "x / y", "1.0 / y", "-ans / y", domain=(0.5, 2.0)),
    binary("floordiv", "x // y", None, None, result="join", domain=(0.5, 2.0)),
    binary("mod", "x % y", "1", "-(x // y)", result="join", domain=(0.5, 3.0),
           kinks=("x / y - round(x / y)",)),
    binary("pow", "x ** y", "y * x ** (y - 1)", "ans * _rt.safe_log(x)",
           result="join", domain=(0.5, 2.0)),
    unary("neg", "-x", "-1", result="join"),
    unary("pos", "+x", "1", result="join"),
    # math and NumPy functions of one argument
    unary("sin", "math.sin(x)", "math.cos(x)"),
    unary("cos", "math.cos(x)", "-math.sin(x)"),
    unary("tan", "math.tan(x)", "1.0 + ans * ans", domain=(-1.2, 1.2)),
    unary("arcsin", "math.asin(x)", "1.0 / math.sqrt(1.0 - x * x)", domain=(-0.9, 0.9)),
    unary("arccos", "math.acos(x)", "-1.0 / math.sqrt(1.0 - x * x)", domain=(-0.9, 0.9)),
    unary("arctan", "math.atan(x)", "1.0 / (1.0 + x * x)"),
    unary("sinh", "math.sinh(x)", "math.cosh(x)"),
    unary("cosh", "math.cosh(x)", "math.sinh(x)"),
    unary("tanh", "math.tanh(x)", "1.0 - ans * ans"),
    unary("arcsinh", "math.asinh(x)", "1.0 / math.sqrt(x * x + 1.0)"),
    unary("arccosh", "math.acosh(x)", "1.0 / math.sqrt(x * x - 1.0)", domain=(1.1, 3.0)),
    unary("arctanh", "math.atanh(x)", "1.0 / (1.0 - x * x)", domain=(-0.9, 0.9)),
    unary("exp", "math.exp(x)", "ans"),
    unary("exp2", "2.0 ** x", f"ans * {LOG2}"),
    unary("expm1", "math.expm1(x)", "ans + 1.0"),
    unary("log", "math.log(x)", "1.0 / x", domain=(0.1, 3.0)),
    unary("log2", "math.log2(x)", f"1.0 / (x * {LOG2})", domain=(0.1, 3.0)),
    unary("log10", "math.log10(x)", f"1.0 / (x * {LOG10})", domain=(0.1, 3.0)),
    unary("log1p", "math.log1p(x)", "1.0 / (1.0 + x)", domain=(-0.5, 3.0)),
    unary("sqrt", "math.sqrt(x)", "0.5 / ans", domain=(0.1, 3.0)),
    unary("cbrt", "np.cbrt(x)", "1.0 / (3.0 * ans * ans)", domain=(0.2, 3.0)),
    unary("erf", "math.erf(x)", f"{TWO_OVER_SQRT_PI} * math.exp(-x * x)"),
    unary("erfc", "math.erfc(x)", f"-{TWO_OVER_SQRT_PI} * math.exp(-x * x)"),
    unary("abs", "abs(x)", "math.copysign(1.0, x)", result="join", kinks=("x",)),
    unary("fabs", "math.fabs(x)", "math.copysign(1.0, x)", kinks=("x",)),
    unary("square", "x * x", "2.0 * x", result="join"),
    unary("degrees", "math.degrees(x)", "57.29577951308232"),
    unary("radians", "math.radians(x)", "0.017453292519943295"),
    unary("float", "float(x)", "1"),
    # functions of two arguments
    binary("arctan2", "math.atan2(x, y)", "y / (x * x + y * y)", "-x / (x * x + y * y)",
           domain=(0.3, 2.0)),
    binary("hypot", "math.hypot(x, y)", "x / ans", "y / ans"),
    binary("fpow", "math.pow(x, y)", "y * x ** (y - 1)", "ans * _rt.safe_log(x)",
           domain=(0.5, 2.0)),
    binary("copysign", "math.copysign(x, y)",
           "math.copysign(1.0, x) * math.copysign(1.0, y)", None, kinks=("x", "y")),
    binary("max", "max(x, y)", "_rt.indicator(x >= y)", "_rt.indicator(y > x)",
           result="join", kinks=("x - y",)),
    binary("min", "min(x, y)", "_rt.indicator(x <= y)", "_rt.indicator(y < x)",
           result="join", kinks=("x - y",)),
    binary("logaddexp", "np.logaddexp(x, y)", "math.exp(x - ans)", "math.exp(y - ans)"),
    binary("log_base", "math.log(x) / math.log(y)", "1.0 / (x * math.log(y))",
           "-ans / (y * math.log(y))", domain=(1.5, 3.0)),
    # piecewise constant: zero derivative
    unary("floor", "math.floor(x)", None, result="int"),
    unary("ceil", "math.ceil(x)", None, result="int"),
    unary("trunc", "math.trunc(x)", None, result="int"),
    unary("round", "round(x)", None, result="int"),
    binary("round_digits", "round(x, y)", None, None, domain=(0.0, 3.0)),
    unary("np_floor", "np.floor(x)", None),
    unary("np_ceil", "np.ceil(x)", None),
    unary("np_trunc", "np.trunc(x)", None),
    unary("sign", "np.sign(x)", None),
    unary("int", "int(x)", None, result="int"),
    unary("bool", "bool(x)", None, result="bool"),
    unary("stop_gradient", "_rt.stop_gradient(x)", None, result="same"),
    # helpers that derivative code calls
    unary("indicator", "_rt.indicator(x)", None),
    unary("safe_log", "_rt.safe_log(x)", "_rt.pos_inv(x)", domain=(0.1, 3.0)),
    unary("pos_inv", "_rt.pos_inv(x)", "-ans * ans", domain=(0.1, 3.0)),
    Rule("trip_count", "_rt.trip_count(x, y, b)", (None, None, None), result="int"),
    # comparisons and logic
    binary("lt", "x < y", None, None, result="bool"),
    binary("le", "x <= y", None, None, result="bool"),
    binary("gt", "x > y", None, None, result="bool"),
    binary("ge", "x >= y", None, None, result="bool"),
    binary("eq", "x == y", None, None, result="bool"),
    binary("ne", "x != y", None, None, result="bool"),
    unary("not", "not x", None, result="bool"),
    # integer-only operators (the type checker rejects float operands)
    unary("invert", "~x", None, result="int"),
    binary("bitand", "x & y", None, None, result="join"),
    binary("bitor", "x | y", None, None, result="join"),
    binary("bitxor", "x ^ y", None, None, result="join"),
    binary("lshift", "x << y", None, None, result="int"),
    binary("rshift", "x >> y", None, None, result="int"),
)

INTEGER_ONLY = {"invert", "bitand", "bitor", "bitxor", "lshift", "rshift"}

OPERATORS = {
    ast.Add: "add", ast.Sub: "sub", ast.Mult: "mult", ast.Div: "div",
    ast.FloorDiv: "floordiv", ast.Mod: "mod", ast.Pow: "pow",
    ast.USub: "neg", ast.UAdd: "pos", ast.Not: "not", ast.Invert: "invert",
    ast.Lt: "lt", ast.LtE: "le", ast.Gt: "gt", ast.GtE: "ge", ast.Eq: "eq", ast.NotEq: "ne",
    ast.BitAnd: "bitand", ast.BitOr: "bitor", ast.BitXor: "bitxor",
    ast.LShift: "lshift", ast.RShift: "rshift",
}


def _functions():
    """Python callables that user code may call, mapped to rule names."""
    table = {
        "sin": [math.sin, np.sin], "cos": [math.cos, np.cos], "tan": [math.tan, np.tan],
        "arcsin": [math.asin, np.arcsin], "arccos": [math.acos, np.arccos],
        "arctan": [math.atan, np.arctan], "sinh": [math.sinh, np.sinh],
        "cosh": [math.cosh, np.cosh], "tanh": [math.tanh, np.tanh],
        "arcsinh": [math.asinh, np.arcsinh], "arccosh": [math.acosh, np.arccosh],
        "arctanh": [math.atanh, np.arctanh], "exp": [math.exp, np.exp],
        "exp2": [np.exp2], "expm1": [math.expm1, np.expm1], "log": [math.log, np.log],
        "log2": [math.log2, np.log2], "log10": [math.log10, np.log10],
        "log1p": [math.log1p, np.log1p], "sqrt": [math.sqrt, np.sqrt],
        "cbrt": [np.cbrt], "erf": [math.erf], "erfc": [math.erfc],
        "abs": [builtins.abs, np.abs, np.absolute], "fabs": [math.fabs, np.fabs],
        "square": [np.square], "degrees": [math.degrees, np.degrees, np.rad2deg],
        "radians": [math.radians, np.radians, np.deg2rad], "float": [builtins.float],
        "arctan2": [math.atan2, np.arctan2], "hypot": [math.hypot, np.hypot],
        "fpow": [math.pow], "pow": [builtins.pow, np.power],
        "copysign": [math.copysign, np.copysign],
        "max": [builtins.max, np.maximum, np.fmax], "min": [builtins.min, np.minimum, np.fmin],
        "logaddexp": [np.logaddexp],
        "floor": [math.floor], "ceil": [math.ceil], "trunc": [math.trunc],
        "round": [builtins.round], "np_floor": [np.floor], "np_ceil": [np.ceil],
        "np_trunc": [np.trunc], "sign": [np.sign], "int": [builtins.int],
        "bool": [builtins.bool], "stop_gradient": [runtime.stop_gradient],
        "indicator": [runtime.indicator], "safe_log": [runtime.safe_log],
        "pos_inv": [runtime.pos_inv], "trip_count": [runtime.trip_count],
    }
    if hasattr(math, "cbrt"):
        table["cbrt"].append(math.cbrt)
    if hasattr(math, "exp2"):
        table["exp2"].append(math.exp2)
    return {id(obj): name for name, objs in table.items() for obj in objs}


FUNCTIONS = _functions()

# Calls whose rule depends on the number of arguments.
BY_ARITY = {("log", 2): "log_base", ("round", 2): "round_digits"}


def rule_for_callable(obj, nargs):
    name = FUNCTIONS.get(id(obj))
    if name is None:
        return None
    return RULES[BY_ARITY.get((name, nargs), name)]


def supported_function_names():
    return sorted({r.template.split("(")[0] for r in RULES.values() if "(" in r.template})
