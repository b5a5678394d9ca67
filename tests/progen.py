"""Random numeric programs for property-based tests of sourcediff.

``programs(...)`` is a Hypothesis strategy producing ``Program`` objects: the
Python source of a module with a few helper functions and a main function
``f`` over float parameters (and optionally an int ``n`` and a bool
``flag``), built from the constructs sourcediff differentiates: arithmetic,
``math`` functions on safe domains, ``if/elif/else``, conditional
expressions, ``for ... in range(...)`` (nested, with constant or
integer-argument bounds), ``while`` with a counter bound, ``break``,
``continue``, early ``return``, tuple unpacking, augmented assignment and
calls to helpers of the same module.

Operands of ``/``, ``**``, ``log`` and ``sqrt`` are kept positive by
construction (``x / (1.0 + y * y)``, ``math.log(1.0 + z * z)``, ...), and
``exp`` only sees bounded arguments.

``traced_source(src)`` rewrites a program so that every branch decision
(``if``/``while``/conditional-expression tests, ``min``/``max``/``abs``
choices) is recorded, with the magnitude of every assigned and returned
value: the tests use it to reject points near a branch switch or a kink,
where finite differences are meaningless.
"""
import ast
import math
from dataclasses import dataclass, field

from hypothesis import strategies as st

# Constructs left out of generation because the engine gets them wrong today; each
# entry names the bug (see the test module's docstring).  Remove an entry to re-enable.
KNOWN_ENGINE_BUGS = {
    # ``for`` loops whose range bound depends on an enclosing loop's index
    # (``for i in range(3): for k in range(i): ...``): reverse mode replays every
    # inner loop with the last trip count, and under-reserves the tape.
    "loop_index_bounds",
    # ``v = v`` (a plain self-assignment): reverse mode zeroes ``v``'s adjoint after
    # adding it to itself, so every derivative flowing through ``v`` is lost.
    "self_assignment",
    # a variable overwritten, outside any loop, after a loop that pushed onto the tape
    # (``for ...: s = s + sin(s)`` then ``s = s + s``): the loop's reservation leaves no
    # room for the later pushes; IndexError on backend="python", an unchecked
    # out-of-bounds write on backend="numba".  While this is listed, statements after
    # a top-level loop assign only fresh names (loops after it get fresh counters).
    "tape_push_after_loop",
}

FLOAT_CONSTS = ("0.5", "1.5", "2.0", "0.25", "-0.75", "3.0", "1.25", "-1.5")
INDENT = "    "


@dataclass
class Program:
    source: str
    params: tuple           # ((name, "float" | "int" | "bool"), ...)
    name: str = "f"

    @property
    def float_params(self):
        return tuple(i for i, (_, k) in enumerate(self.params) if k == "float")

    def __repr__(self):     # Hypothesis prints this on failure: show the source itself
        return f"Program(params={self.params!r}, source=\n{self.source})"


@dataclass
class Scope:
    floats: list = field(default_factory=list)   # float variables readable here
    ints: list = field(default_factory=list)     # int variables (loop indices, counters, n)
    bools: list = field(default_factory=list)

    def copy(self):
        return Scope(list(self.floats), list(self.ints), list(self.bools))


@dataclass
class Ctx:
    depth: int = 0            # nesting of compound statements
    loops: int = 0            # nesting of loops
    in_loop: bool = False
    returns: str = "float"    # "float" or "pair": what this function returns


class Gen:
    """Draws one module.  ``draw`` is Hypothesis' draw function."""

    def __init__(self, draw, *, max_stmts, max_depth, max_expr_depth, helpers, allow_int, small):
        self.draw = draw
        self.budget = max_stmts
        self.max_depth = max_depth
        self.max_expr_depth = max_expr_depth
        self.max_helpers = helpers
        self.allow_int = allow_int
        self.small = small
        self.counter = 0
        self.float_helpers = []   # names of helpers returning one float (of two floats)
        self.pair_helpers = []    # names of helpers returning a pair of floats
        self.after_loop = False   # a loop outside any loop was emitted in this function

    # ------------------------------------------------------------ drawing helpers
    def pick(self, options):
        return self.draw(st.sampled_from(options))

    def chance(self, p_percent):
        return self.draw(st.integers(0, 99)) < p_percent

    def fresh(self, prefix="v"):
        self.counter += 1
        return f"{prefix}{self.counter}"

    # ------------------------------------------------------------ expressions
    def var(self, scope):
        """A float variable, biased towards the latest ones (so values flow on)."""
        if len(scope.floats) > 3 and self.chance(50):
            return self.pick(scope.floats[-3:])
        return self.pick(scope.floats)

    def leaf(self, scope):
        kind = self.draw(st.integers(0, 9))
        if kind <= 6 and scope.floats:
            return self.var(scope)
        if kind <= 8 and scope.ints and self.allow_int:
            return f"({self.pick(FLOAT_CONSTS)} * {self.pick(scope.ints)})"
        if scope.floats and kind != 9:
            return self.var(scope)
        return self.pick(FLOAT_CONSTS)

    def expr(self, scope, depth=None):
        """A float-valued expression."""
        if depth is None:
            depth = self.max_expr_depth
        if depth <= 0 or self.chance(25):
            return self.leaf(scope)
        d = depth - 1
        forms = ["add", "sub", "mul", "neg", "div", "sin", "cos", "tanh", "atan", "exp",
                 "gauss", "log", "sqrt", "abspow", "square", "cube", "powact", "hypot",
                 "min", "max", "abs", "ifexp"]
        if self.float_helpers:
            forms += ["call", "call"]
        form = self.pick(forms)
        e = lambda: self.expr(scope, d)   # noqa: E731
        small = lambda: self.expr(scope, min(d, 1))   # noqa: E731  (operands written twice)
        if form == "add":
            return f"({e()} + {e()})"
        if form == "sub":
            return f"({e()} - {e()})"
        if form == "mul":
            return f"({e()} * {e()})"
        if form == "neg":
            return f"(-{e()})"
        if form == "div":
            if self.chance(30):
                return f"({e()} / {self.pick(('2.5', '1.5', '4.0'))})"
            b = small()
            return f"({e()} / (1.0 + {b} * {b}))"
        if form in ("sin", "cos", "tanh", "atan"):
            return f"math.{form}({e()})"
        if form == "exp":
            return f"math.exp(math.{self.pick(('sin', 'cos', 'tanh'))}({e()}))"
        if form == "gauss":
            a = small()
            return f"math.exp(-({a} * {a}))"
        if form in ("log", "sqrt"):
            a = small()
            return f"math.{form}(1.0 + {a} * {a})"
        if form == "abspow":
            return f"abs({e()}) ** {self.pick(('1.5', '2.5'))}"
        if form == "square":
            return f"({e()} ** 2)"
        if form == "cube":
            return f"({e()} ** 3)"
        if form == "powact":   # active exponent on a positive base
            a = small()
            return f"((1.0 + {a} * {a}) ** math.sin({e()}))"
        if form == "hypot":
            return f"math.hypot({e()}, {e()})"
        if form in ("min", "max"):
            return f"{form}({e()}, {e()})"
        if form == "abs":
            return f"abs({e()})"
        if form == "ifexp":
            return f"({e()} if {self.cond(scope, d)} else {e()})"
        if form == "call":
            return f"{self.pick(self.float_helpers)}({e()}, {e()})"
        raise AssertionError(form)

    def cond(self, scope, depth=1):
        forms = ["cmp", "cmp", "cmpc"]
        if depth > 0:
            forms += ["and", "or", "not"]
        if scope.ints and self.allow_int:
            forms += ["int"]
        if scope.bools:
            forms += ["bool"]
        form = self.pick(forms)
        shallow = min(depth, 1)
        if form == "cmp":
            op = self.pick(("<", ">", "<=", ">="))
            return f"{self.expr(scope, shallow)} {op} {self.expr(scope, shallow)}"
        if form == "cmpc":
            op = self.pick(("<", ">"))
            return f"{self.expr(scope, shallow)} {op} {self.pick(('0.0', '0.5', '-0.5', '1.0'))}"
        if form in ("and", "or"):
            return f"({self.cond(scope, depth - 1)} {form} {self.cond(scope, depth - 1)})"
        if form == "not":
            return f"(not ({self.cond(scope, depth - 1)}))"
        if form == "int":
            i = self.pick(scope.ints)
            return self.pick((f"{i} % 2 == 0", f"{i} > 1", f"{i} == 2", f"{i} != 1"))
        if form == "bool":
            b = self.pick(scope.bools)
            return self.pick((b, f"not {b}"))
        raise AssertionError(form)

    # ------------------------------------------------------------ statements
    def ret_value(self, scope, ctx):
        if ctx.returns == "pair":
            return f"{self.expr(scope)}, {self.expr(scope)}"
        return self.expr(scope)

    def block(self, scope, ctx, count):
        """``count`` statements (at least one line), as indented lines; may extend ``scope``."""
        lines = []
        for _ in range(count):
            if self.budget <= 0:
                break
            lines += self.stmt(scope, ctx)
        return lines or ["pass"]

    def stmt(self, scope, ctx):
        self.budget -= 1
        # see KNOWN_ENGINE_BUGS["tape_push_after_loop"]: only fresh names here
        fresh_only = (self.after_loop and ctx.loops == 0
                      and "tape_push_after_loop" in KNOWN_ENGINE_BUGS)
        forms = ["assign", "assign"] + ([] if fresh_only else ["aug", "aug", "reassign"]) + \
            ["unpack"]
        if self.pair_helpers:
            forms += ["callpair"]
        if ctx.depth < self.max_depth:
            forms += ["if", "if", "for", "for"]
            if not self.small or ctx.loops == 0:
                forms += ["while"]
        if ctx.in_loop:
            forms += ["break", "continue"]
        forms += ["return"]
        form = self.pick(forms)
        inner = Ctx(ctx.depth + 1, ctx.loops, ctx.in_loop, ctx.returns)
        if form == "assign":
            v = self.fresh()
            line = f"{v} = {self.expr(scope)}"
            scope.floats.append(v)
            return [line]
        if form == "reassign":
            v, e = self.pick(scope.floats), self.expr(scope)
            if e == v and "self_assignment" in KNOWN_ENGINE_BUGS:
                e = f"({v} + 0.25)"
            return [f"{v} = {e}"]
        if form == "aug":
            v = self.var(scope)
            op = self.pick(("+=", "-=", "*="))
            if op == "*=":   # keep products bounded
                return [f"{v} *= math.{self.pick(('cos', 'tanh', 'sin'))}({self.expr(scope)})"]
            return [f"{v} {op} {self.expr(scope)}"]
        if form == "unpack":
            if len(scope.floats) >= 2 and not fresh_only and self.chance(30):
                a, b = self.draw(st.permutations(scope.floats))[:2]
                return [f"{a}, {b} = {b}, {a}"]
            targets = [self.pick(scope.floats) if not fresh_only and self.chance(40) else None
                       for _ in range(2)]
            if targets[0] is not None and targets[0] == targets[1]:
                targets[1] = None
            values = [self.expr(scope), self.expr(scope)]
            names_ = []
            for t in targets:
                if t is None:
                    t = self.fresh()
                    scope.floats.append(t)
                names_.append(t)
            return [f"{names_[0]}, {names_[1]} = {values[0]}, {values[1]}"]
        if form == "callpair":
            call = f"{self.pick(self.pair_helpers)}({self.expr(scope)}, {self.expr(scope)})"
            p, q = self.fresh(), self.fresh()
            scope.floats += [p, q]
            return [f"{p}, {q} = {call}"]
        if form == "if":
            lines = [f"if {self.cond(scope)}:"]
            lines += _indent(self.block(scope.copy(), inner, self.draw(st.integers(1, 3))))
            for _ in range(self.draw(st.integers(0, 2))):
                lines += [f"elif {self.cond(scope)}:"]
                lines += _indent(self.block(scope.copy(), inner, self.draw(st.integers(1, 2))))
            if self.chance(50):
                lines += ["else:"]
                lines += _indent(self.block(scope.copy(), inner, self.draw(st.integers(1, 2))))
            return lines
        if form == "for":
            idx = f"i{ctx.loops}" + (f"_{self.fresh('')}" if fresh_only else "")
            bounds = [str(self.draw(st.integers(0, 4 if self.small else 6)))]
            if self.allow_int:
                bounds += [i for i in scope.ints if i == "n" or (
                    i.startswith("i") and "loop_index_bounds" not in KNOWN_ENGINE_BUGS)]
            stop = self.pick(bounds)
            shape = self.pick(("stop", "start", "step", "down"))
            rng = {"stop": f"range({stop})", "start": f"range(1, {stop})",
                   "step": f"range(0, {stop}, 2)", "down": f"range({stop}, 0, -1)"}[shape]
            body_scope = scope.copy()
            body_scope.ints.append(idx)
            body = self.block(body_scope, Ctx(ctx.depth + 1, ctx.loops + 1, True, ctx.returns),
                              self.draw(st.integers(1, 3)))
            self.after_loop |= ctx.loops == 0
            return [f"for {idx} in {rng}:"] + _indent(body)
        if form == "while":
            counter = f"j{ctx.loops}" + (f"_{self.fresh('')}" if fresh_only else "")
            bound = self.pick((str(self.draw(st.integers(0, 4))),) +
                              (("n",) if "n" in scope.ints and self.allow_int else ()))
            test = f"{counter} < {bound}"
            if self.chance(40) and scope.floats:
                test = f"{self.cond(scope, 0)} and {test}"
            body_scope = scope.copy()
            body_scope.ints.append(counter)
            body = [f"{counter} += 1"] + self.block(
                body_scope, Ctx(ctx.depth + 1, ctx.loops + 1, True, ctx.returns),
                self.draw(st.integers(1, 3)))
            self.after_loop |= ctx.loops == 0
            return [f"{counter} = 0", f"while {test}:"] + _indent(body)
        if form in ("break", "continue"):
            return [f"if {self.cond(scope)}:", INDENT + form]
        if form == "return":
            return [f"if {self.cond(scope)}:", INDENT + f"return {self.ret_value(scope, ctx)}"]
        raise AssertionError(form)

    # ------------------------------------------------------------ functions
    def helper(self):
        name_ = f"h{len(self.float_helpers) + len(self.pair_helpers)}"
        returns = "pair" if self.chance(35) else "float"
        scope = Scope(floats=["a", "b"])
        self.after_loop = False
        saved = self.budget
        self.budget = self.draw(st.integers(1, 2 if self.small else 3))
        body = self.block(scope, Ctx(depth=self.max_depth - 1, returns=returns),
                          self.budget)
        self.budget = saved
        body.append(f"return {self.ret_value(scope, Ctx(returns=returns))}")
        (self.pair_helpers if returns == "pair" else self.float_helpers).append(name_)
        return [f"def {name_}(a, b):"] + _indent(body)

    def module(self):
        helpers = []
        for _ in range(self.draw(st.integers(0, self.max_helpers))):
            helpers += self.helper() + ["", ""]
        n_float = self.draw(st.integers(1, 3))
        params = [(f"x{k}", "float") for k in range(n_float)]
        if self.allow_int and self.chance(50):
            params.append(("n", "int"))
        if self.chance(25):
            params.append(("flag", "bool"))
        scope = Scope(floats=[p for p, k in params if k == "float"],
                      ints=[p for p, k in params if k == "int"],
                      bools=[p for p, k in params if k == "bool"])
        body = []
        self.after_loop = False
        if self.chance(60):   # an accumulator, as numeric code usually has
            body.append("s = 0.0")
            scope.floats.append("s")
        body += self.block(scope, Ctx(), self.budget)
        # the result mixes the latest values with a fresh expression
        terms = [self.expr(scope)] + [self.var(scope) for _ in range(self.draw(st.integers(0, 2)))]
        body.append(f"return {' + '.join(terms)}")
        signature = ", ".join(p for p, _ in params)
        lines = ["import math", "", ""] + helpers + [f"def f({signature}):"] + _indent(body)
        return Program("\n".join(lines) + "\n", tuple(params))


def _indent(lines):
    return [INDENT + line if line else line for line in lines]


@st.composite
def programs(draw, *, max_stmts=10, max_depth=2, max_expr_depth=3, helpers=2,
             allow_int=True, small=False):
    gen = Gen(draw, max_stmts=draw(st.integers(1, max_stmts)), max_depth=max_depth,
              max_expr_depth=max_expr_depth, helpers=helpers, allow_int=allow_int, small=small)
    return gen.module()


# ------------------------------------------------------------------ tracing

class Tracer:
    """Collects the branch decisions and value magnitudes of one evaluation."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.events = []
        self.magnitude = 0.0
        self.singular = False

    def cond(self, c):
        self.events.append(bool(c))
        return c

    def val(self, v):
        for x in (v if isinstance(v, tuple) else (v,)):
            if isinstance(x, float):
                self.magnitude = max(self.magnitude, abs(x)) if math.isfinite(x) else math.inf
        return v

    def min(self, a, b):
        self.events.append(a <= b)
        return min(a, b)

    def max(self, a, b):
        self.events.append(a >= b)
        return max(a, b)

    def abs(self, a):
        self.events.append(a >= 0)
        return abs(a)

    def hypot(self, a, b):
        # hypot is not differentiable at (0, 0): there d/da = a / hypot(a, b) is 0/0
        if max(abs(a), abs(b)) < 1e-3:
            self.singular = True
        return math.hypot(a, b)


class _Tracing(ast.NodeTransformer):
    def _wrap(self, attr, node):
        return ast.Call(func=ast.Attribute(value=ast.Name("_tr", ast.Load()), attr=attr,
                                           ctx=ast.Load()), args=[node], keywords=[])

    def visit_If(self, node):
        self.generic_visit(node)
        node.test = self._wrap("cond", node.test)
        return node

    visit_While = visit_If
    visit_IfExp = visit_If

    def visit_Assign(self, node):
        self.generic_visit(node)
        node.value = self._wrap("val", node.value)
        return node

    visit_AugAssign = visit_Assign

    def visit_Return(self, node):
        self.generic_visit(node)
        node.value = self._wrap("val", node.value)
        return node

    def visit_Call(self, node):
        self.generic_visit(node)
        f = node.func
        if isinstance(f, ast.Name) and f.id in ("min", "max", "abs"):
            node.func = ast.Attribute(value=ast.Name("_tr", ast.Load()), attr=f.id, ctx=ast.Load())
        elif isinstance(f, ast.Attribute) and f.attr == "hypot":
            node.func = ast.Attribute(value=ast.Name("_tr", ast.Load()), attr="hypot",
                                      ctx=ast.Load())
        return node


def traced_source(source):
    """``source`` with every branch decision and assigned value reported to ``_tr``."""
    tree = _Tracing().visit(ast.parse(source))
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"
