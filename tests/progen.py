"""Random numeric programs for property-based tests of sourcediff.

``programs(...)`` is a Hypothesis strategy producing ``Program`` objects: the
Python source of a module with a few helper functions and a main function
``f`` over float parameters (and optionally an int ``n`` and a bool
``flag``), built from the constructs sourcediff differentiates: arithmetic,
``math`` functions on safe domains, ``if/elif/else``, conditional
expressions, ``for ... in range(...)`` (nested, with constant or
integer-argument bounds), ``while`` with a counter bound, ``break``,
``continue``, early ``return``, tuple unpacking, augmented assignment and
calls to helpers of the same module (with constant arguments sometimes, so
that a helper's parameter may be inactive).  Loop bodies favour loop-carried,
nonlinear updates (``s = s * math.cos(...) + ...``), whose old values the
reverse sweep must restore.

Operands of ``/``, ``**``, ``log`` and ``sqrt`` are kept positive by
construction (``x / (1.0 + y * y)``, ``math.log(1.0 + z * z)``, ...), and
``exp`` only sees bounded arguments.

``programs(arrays=True)`` draws from ``ArrayGen``: the same constructs plus a
float array argument and local arrays (element, slice and view reads and
writes, rebinding, elementwise NumPy expressions, reductions).  The scalar
generator draws exactly as before (its hooks for ``ArrayGen`` draw nothing).

``traced_source(src)`` rewrites a program so that every branch decision
(``if``/``while``/conditional-expression tests, ``min``/``max``/``abs``
choices) is recorded, with the magnitude of every assigned and returned
value: the tests use it to reject points near a branch switch or a kink,
where finite differences are meaningless.
"""
import ast
import math
from dataclasses import dataclass, field, replace

import numpy as np
from hypothesis import strategies as st

FLOAT_CONSTS = ("0.5", "1.5", "2.0", "0.25", "(-0.75)", "3.0", "1.25", "(-1.5)")
INDENT = "    "


@dataclass
class Program:
    source: str
    params: tuple           # ((name, "float" | "int" | "bool" | "array"), ...)
    name: str = "f"

    @property
    def float_params(self):
        """The differentiated parameters: floats and float arrays."""
        return tuple(i for i, (_, k) in enumerate(self.params) if k in ("float", "array"))

    def __repr__(self):     # Hypothesis prints this on failure: show the source itself
        return f"Program(params={self.params!r}, source=\n{self.source})"


@dataclass
class Scope:
    floats: list = field(default_factory=list)   # float variables readable here
    ints: list = field(default_factory=list)     # int variables (loop indices, counters, n)
    bools: list = field(default_factory=list)
    frozen: tuple = ()                           # floats that are never assigned
    arrays: list = field(default_factory=list)   # float arrays of ARRAY_LEN elements (ArrayGen)

    def copy(self):
        return Scope(list(self.floats), list(self.ints), list(self.bools), self.frozen,
                     list(self.arrays))

    @property
    def assignable(self):
        return [v for v in self.floats if v not in self.frozen]


@dataclass
class Ctx:
    depth: int = 0            # nesting of compound statements
    loops: int = 0            # nesting of loops
    in_loop: bool = False
    returns: str = "float"    # "float" or "pair": what this function returns
    in_while: bool = False    # inside a while loop (at any depth)
    loop_kind: str = ""       # the innermost loop: "for" or "while"


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
        self.imports = ["import math"]

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
            if kind == 8:
                return f"float({self.pick(scope.ints)})"
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
                 "min", "max", "abs", "ifexp", "fpow", "negpow"]
        if self.float_helpers:
            forms += ["call", "call"]
        forms += self.extra_expr_forms(scope)
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
            return f"(abs({e()}) ** {self.pick(('1.5', '2.5'))})"
        if form in ("square", "cube"):
            base = e()
            if self.chance(15):   # powers of constants, as in (-0.5) ** 2
                base = self.pick(FLOAT_CONSTS)
            return f"({base} ** {2 if form == 'square' else 3})"
        if form == "powact":   # active exponent on a positive base
            a = small()
            return f"((1.0 + {a} * {a}) ** math.sin({e()}))"
        if form == "fpow":
            a = small()
            return f"math.pow(1.0 + {a} * {a}, {self.pick(('1.5', '0.5', '-0.5'))})"
        if form == "negpow":
            a = small()
            return f"((1.0 + {a} * {a}) ** {self.pick(('-1', '-2'))})"
        if form == "hypot":
            return f"math.hypot({e()}, {e()})"
        if form in ("min", "max"):
            return f"{form}({e()}, {e()})"
        if form == "abs":
            return f"abs({e()})"
        if form == "ifexp":
            return f"({e()} if {self.cond(scope, d)} else {e()})"
        if form == "call":
            a, b = e(), e()
            if self.chance(25):   # a constant argument: inactive inside the helper
                a, b = self.pick((("0.5", b), (a, "1.5")))
            return f"{self.pick(self.float_helpers)}({a}, {b})"
        if form == "ifexp":
            return self.leaf(scope)
        return self.expr_extra(form, scope, d)

    def cond(self, scope, depth=1):
        forms = ["cmp", "cmp", "cmpc", "chain"]
        if depth > 0:
            # inside loops, several times: one operand often depends on the trip
            boolops = ["and", "or"]
            forms += ["not"] + boolops * (3 if any(i[0] in "ij" for i in scope.ints) else 1)
        if scope.ints and self.allow_int:
            # tests on loop indices and counters make branches differ from trip to trip
            forms += ["int"] * (3 if any(i[0] in "ij" for i in scope.ints) else 1)
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
        if form == "chain":
            lo, hi = self.pick((("-0.5", "0.5"), ("-1.0", "1.5"), ("0.0", "2.0")))
            return f"{lo} < {self.expr(scope, shallow)} < {hi}"
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
        reassign = ["aug", "aug", "reassign", "carry"] if scope.assignable else []
        forms = ["assign", "assign"] + reassign + ["unpack", "boolvar"]
        if ctx.in_loop:   # loop-carried updates: the values that flow from one trip to the next
            forms += reassign + ["carry"] * 3 * bool(reassign)
        if self.allow_int:
            forms += ["intvar"]
        if self.pair_helpers:
            forms += ["callpair"]
        if ctx.depth < self.max_depth:
            forms += ["if", "if"] + ["if"] * 2 * ctx.in_loop   # branches that differ by trip
            forms += ["for", "for"] + (["for"] if ctx.depth == 0 else [])
            if ctx.loops == 0 or not self.small:
                forms += ["while"]
        if ctx.in_loop:
            forms += ["continue", "break", "break"]
        forms += ["return"]
        if ctx.depth + 1 < self.max_depth and scope.assignable:
            forms += ["nest"]
        forms += self.extra_stmt_forms(scope, ctx)
        return self.emit(self.pick(forms), scope, ctx)

    def emit(self, form, scope, ctx):
        """The lines of a statement of the given ``form``; may extend ``scope``."""
        inner = replace(ctx, depth=ctx.depth + 1)
        if form == "assign":
            v = self.fresh()
            line = f"{v} = {self.expr(scope)}"
            scope.floats.append(v)
            return [line]
        if form == "boolvar":
            v = self.fresh("c")
            line = f"{v} = {self.cond(scope)}"
            scope.bools.append(v)
            return [line]
        if form == "intvar":   # int values are not differentiated; they scale floats
            ints = [i for i in scope.ints if i.startswith("m")]
            if ints and self.chance(50):
                m = self.pick(ints)
                return [f"{m} = {m} + {self.pick(scope.ints + ['1'])}"]
            m = self.fresh("m")
            value = self.pick([f"{i} + 1" for i in scope.ints] + [f"{i} % 3" for i in scope.ints]
                              + ["2"])
            scope.ints.append(m)
            return [f"{m} = {value}"]
        if form == "carry":   # a nonlinear update of a variable by itself: its old value is taped
            v = self.pick(scope.assignable)
            e = self.expr(scope, 1)
            return [self.pick((f"{v} = {v} * math.cos({e}) + {self.expr(scope, 1)}",
                               f"{v} = math.sin({v}) + {e}",
                               f"{v} = {v} * {v} / (1.0 + {v} * {v}) + {e}",
                               f"{v} = {v} * {e}",
                               f"{v} *= math.tanh({v} + {e})"))]
        if form == "reassign":
            return [f"{self.pick(scope.assignable)} = {self.expr(scope)}"]
        if form == "aug":
            v = self.pick(scope.assignable)
            op = self.pick(("+=", "-=", "*=", "/="))
            if op == "*=":   # keep products bounded
                return [f"{v} *= math.{self.pick(('cos', 'tanh', 'sin'))}({self.expr(scope)})"]
            if op == "/=":
                b = self.expr(scope, 1)
                return [f"{v} /= (1.0 + {b} * {b})"]
            return [f"{v} {op} {self.expr(scope)}"]
        if form == "unpack":
            if len(scope.assignable) >= 2 and self.chance(30):
                a, b = self.draw(st.permutations(scope.assignable))[:2]
                return [f"{a}, {b} = {b}, {a}"]
            targets = [self.pick(scope.assignable)
                       if scope.assignable and self.chance(40) else None
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
            body_scope = scope.copy()
            first = []
            if ctx.in_loop and body_scope.assignable and self.chance(50):
                first = self.emit("carry", body_scope, inner)   # a branch that tapes
            lines += _indent(first + self.block(body_scope, inner,
                                                self.draw(st.integers(0 if first else 1, 3))))
            for _ in range(self.draw(st.integers(0, 2))):
                lines += [f"elif {self.cond(scope)}:"]
                lines += _indent(self.block(scope.copy(), inner, self.draw(st.integers(1, 2))))
            if self.chance(50):
                lines += ["else:"]
                lines += _indent(self.block(scope.copy(), inner, self.draw(st.integers(1, 2))))
            return lines
        if form == "nest":   # a loop nest around a loop-carried update
            def inner_loop(body_scope, body_ctx):
                return self.for_loop(body_scope, body_ctx, lambda s, c: self.emit("carry", s, c))
            return self.for_loop(scope, ctx, inner_loop)
        if form == "for":
            return self.for_loop(scope, ctx)
        if form == "while":
            return self.while_loop(scope, ctx)
        if form in ("break", "continue"):
            return [f"if {self.cond(scope)}:", INDENT + form]
        if form == "return":
            return [f"if {self.cond(scope)}:", INDENT + f"return {self.ret_value(scope, ctx)}"]
        return self.emit_extra(form, scope, ctx)

    # ------------------------------------------------------------ hooks (ArrayGen); none draws here
    def extra_expr_forms(self, scope):
        return []

    def expr_extra(self, form, scope, depth):
        raise AssertionError(form)

    def extra_stmt_forms(self, scope, ctx):
        return []

    def emit_extra(self, form, scope, ctx):
        raise AssertionError(form)

    def extra_helpers(self):
        return []

    def extra_params(self):
        return []

    def prologue(self, scope):
        return []

    def result_terms(self, scope):
        return []

    def for_loop(self, scope, ctx, first=None):
        """A for loop; ``first(scope, ctx)`` gives the first lines of its body."""
        idx = f"i{ctx.loops}"
        bounds = [str(self.draw(st.integers(0, 4 if self.small else 6)))]
        if self.allow_int:
            bounds += [i for i in scope.ints if i == "n"]
            outer = [i for i in scope.ints if i.startswith("i")]
            if outer:
                bounds += [f"{i} + 1" for i in outer] * 2   # triangular loops
        stop = self.pick(bounds)
        shape = self.pick(("stop", "start", "step", "down"))
        rng = {"stop": f"range({stop})", "start": f"range(1, {stop})",
               "step": f"range(0, {stop}, 2)", "down": f"range({stop}, 0, -1)"}[shape]
        body_scope = scope.copy()
        body_scope.ints.append(idx)
        body_ctx = replace(ctx, depth=ctx.depth + 1, loops=ctx.loops + 1, in_loop=True,
                           loop_kind="for")
        body = first(body_scope, body_ctx) if first else []
        body += self.block(body_scope, body_ctx, self.draw(st.integers(0 if first else 1, 3)))
        if body[-1:] == ["pass"] and len(body) > 1:
            body.pop()
        return [f"for {idx} in {rng}:"] + _indent(body)

    def while_loop(self, scope, ctx):
        counter = f"j{ctx.loops}"
        bound = self.pick((str(self.draw(st.integers(0, 4))),) +
                          (("n",) if "n" in scope.ints and self.allow_int else ()))
        test = f"{counter} < {bound}"
        if self.chance(40) and scope.floats:
            test = f"{self.cond(scope, 0)} and {test}"
        body_scope = scope.copy()
        body_scope.ints.append(counter)
        body_ctx = replace(ctx, depth=ctx.depth + 1, loops=ctx.loops + 1, in_loop=True,
                           in_while=True, loop_kind="while")
        body = [f"{counter} += 1"]
        if body_scope.assignable and self.chance(50):
            body += self.emit("carry", body_scope, body_ctx)
        body += self.block(body_scope, body_ctx, self.draw(st.integers(1, 2 if self.small else 4)))
        return [f"{counter} = 0", f"while {test}:"] + _indent(body)

    # ------------------------------------------------------------ functions
    def helper(self):
        name_ = f"h{len(self.float_helpers) + len(self.pair_helpers)}"
        returns = "pair" if self.chance(35) else "float"
        scope = Scope(floats=["a", "b"])
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
        helpers += self.extra_helpers()
        n_float = self.draw(st.integers(1, 3))
        params = [(f"x{k}", "float") for k in range(n_float)]
        if self.allow_int and self.chance(50):
            params.append(("n", "int"))
        if self.chance(25):
            params.append(("flag", "bool"))
        params += self.extra_params()
        scope = Scope(floats=[p for p, k in params if k == "float"],
                      ints=[p for p, k in params if k == "int"],
                      bools=[p for p, k in params if k == "bool"],
                      arrays=[p for p, k in params if k == "array"])
        body = []
        if self.chance(60):   # an accumulator, as numeric code usually has
            body.append("s = 0.0")
            scope.floats.append("s")
        body += self.prologue(scope)
        body += self.block(scope, Ctx(), self.budget)
        # the result mixes a fresh expression with the function's variables (so that
        # what the body computes reaches the result)
        local = [v for v in scope.floats[n_float:]][-4:]
        terms = [self.expr(scope)] + local + \
            [self.var(scope) for _ in range(self.draw(st.integers(0, 1)))]
        terms += self.result_terms(scope)
        body.append(f"return {' + '.join(terms)}")
        signature = ", ".join(p for p, _ in params)
        lines = self.imports + ["", ""] + helpers + [f"def f({signature}):"] + _indent(body)
        return Program("\n".join(lines) + "\n", tuple(params))


ARRAY_LEN = 8   # every loop index and counter (at most 7) is a valid index


class ArrayGen(Gen):
    """Draws a module whose ``f`` also takes a float array ``arr`` of ``ARRAY_LEN`` elements.

    Added to the scalar constructs: element reads with index arithmetic (``arr[i]``,
    ``arr[(i + 3) % 8]``, ``arr[7 - i]``, ``buf[m % 8]``), local arrays (``np.zeros``,
    ``.copy()`` or an array expression) written element by element (``=``, ``+=``, ``-=``,
    ``*=``), through slices (``buf[2:5] = ...``, ``+=``, a stencil ``buf[1:-1] = ...``) and
    through views (``v = buf[1:6]; v[2] = ...``), rebound in loops (``buf = np.sin(buf) * x0
    + arr``, ``buf2 = buf1``, ``buf1, buf2 = buf2, buf1``), elementwise expressions, and
    reductions (``np.sum``, ``np.mean``, ``np.dot``, ``a.sum()``, sums of suffixes
    ``buf[i:]``).  ``arr`` itself is never written nor aliased by a written name.
    """

    def __init__(self, draw, **kw):
        super().__init__(draw, **kw)
        self.imports = ["import math", "import numpy as np"]
        self.array_helpers = []   # names of helpers taking and returning an array

    # ------------------------------------------------------------ where arrays enter
    def extra_helpers(self):
        """Up to two helpers ``gK(u, c)`` returning an array: an expression of ``u`` (and of a
        copy of it written element by element, sometimes), called as ``buf = gK(buf, x0)``."""
        lines = []
        self.array_helpers = []
        for _ in range(self.draw(st.integers(0, 2))):
            name_ = f"g{len(self.array_helpers)}"
            scope = Scope(floats=["c"], frozen=("c",), arrays=["u"])
            body = []
            if self.chance(50):
                body += self.emit("newarr", scope, Ctx())
                for _ in range(self.draw(st.integers(1, 2))):
                    body += self.emit_extra("ewrite", scope, Ctx())
            body.append(f"return {self._fresh_array(self.aexpr(scope))}")
            self.array_helpers.append(name_)
            lines += [f"def {name_}(u, c):"] + _indent(body) + ["", ""]
        return lines

    def extra_params(self):
        return [("arr", "array")]

    def prologue(self, scope):
        """One or two local arrays to write into, often a loop over them."""
        lines = self.emit("newarr", scope, Ctx())
        if self.chance(40):
            lines += self.emit("newarr", scope, Ctx())
        if self.chance(50):
            lines += self.emit("for", scope, Ctx())
        return lines

    def result_terms(self, scope):
        terms = []
        for b in [v for v in scope.arrays if _writable(v)][-2:]:
            terms.append(self.pick((f"np.sum({b} * {b})", f"np.sum(np.sin({b}))",
                                    f"np.dot({b}, arr)")))
        return terms

    # ------------------------------------------------------------ expressions
    def index(self, scope):
        """An int expression in [0, ARRAY_LEN)."""
        loop = [i for i in scope.ints if i[0] in "ijn"]   # loop indices, counters, n: 0..7
        counters = [i for i in scope.ints if i[0] == "m"]
        forms = ["const"] + ["loop", "loop", "shift", "mirror", "half"] * bool(loop) + \
            ["mod"] * bool(counters)
        form = self.pick(forms)
        if form == "const":
            return str(self.draw(st.integers(0, ARRAY_LEN - 1)))
        if form == "mod":
            return f"{self.pick(counters)} % {ARRAY_LEN}"
        i = self.pick(loop)
        if form == "loop":
            return i
        if form == "shift":
            return f"({i} + {self.draw(st.integers(1, ARRAY_LEN - 1))}) % {ARRAY_LEN}"
        if form == "mirror":
            return f"{ARRAY_LEN - 1} - {i}"
        return f"{i} // 2"

    def leaf(self, scope):
        if scope.arrays and self.chance(25):
            return f"{self.pick(scope.arrays)}[{self.index(scope)}]"
        return super().leaf(scope)

    def extra_expr_forms(self, scope):
        return ["element", "reduce", "reduce"] if scope.arrays else []

    def expr_extra(self, form, scope, depth):
        if form == "element":   # an element times something, index arithmetic on both sides
            return f"({self.pick(scope.arrays)}[{self.index(scope)}] * {self.expr(scope, depth)})"
        if form == "reduce":
            a = self.pick(scope.arrays)
            loop = [i for i in scope.ints if i[0] in "ij"]
            forms = ["sum", "sum", "mean", "dot", "method", "slice"] + ["suffix"] * bool(loop) + \
                ["call", "call"] * bool(self.array_helpers)
            kind = self.pick(forms)
            if kind == "call":
                return f"np.sum({self.pick(self.array_helpers)}({a}, {self.expr(scope, 1)}))"
            if kind == "sum":
                return f"np.sum({self.aexpr(scope, min(depth, 2))})"
            if kind == "mean":
                return f"np.mean({self.aexpr(scope, min(depth, 1))})"
            if kind == "dot":
                return f"np.dot({a}, {self.pick(scope.arrays)})"
            if kind == "method":
                return f"{a}.sum()"
            if kind == "slice":
                lo = self.draw(st.integers(0, ARRAY_LEN - 1))
                hi = self.draw(st.integers(lo + 1, ARRAY_LEN))
                return f"np.sum({a}[{lo}:{hi}])"
            return f"np.sum({a}[{self.pick(loop)}:])"
        raise AssertionError(form)

    def aexpr(self, scope, depth=2):
        """An array expression of ARRAY_LEN elements."""
        if depth <= 0 or self.chance(30):
            return self.pick(scope.arrays)
        d = depth - 1
        form = self.pick(("scale", "scale", "add", "sub", "mul", "fn", "exp", "div", "log", "roll"))
        a = lambda: self.aexpr(scope, d)   # noqa: E731
        if form == "scale":
            return f"({a()} * {self.expr(scope, 1)})"
        if form in ("add", "sub", "mul"):
            return f"({a()} {dict(add='+', sub='-', mul='*')[form]} {a()})"
        if form == "fn":
            return f"np.{self.pick(('sin', 'cos', 'tanh', 'arctan'))}({a()})"
        if form == "exp":
            return f"np.exp(np.sin({a()}))"
        v = self.pick(scope.arrays)
        if form == "div":
            return f"({a()} / (1.0 + {v} * {v}))"
        if form == "log":
            return f"np.log(1.0 + {v} * {v})"
        k = self.draw(st.integers(1, ARRAY_LEN - 1))   # a rotation, from two slices
        return f"np.concatenate(({v}[{k}:], {v}[:{k}]))"

    def sexpr(self, scope, width, depth=1):
        """An expression of ``width`` elements built from slices."""
        if depth <= 0 or self.chance(30):
            start = self.draw(st.integers(0, ARRAY_LEN - width))
            return f"{self.pick(scope.arrays)}[{start}:{start + width}]"
        form = self.pick(("scale", "add", "mul", "fn"))
        s = lambda: self.sexpr(scope, width, depth - 1)   # noqa: E731
        if form == "scale":
            return f"({s()} * {self.expr(scope, 1)})"
        if form == "add":
            return f"({s()} + {s()})"
        if form == "mul":
            return f"({s()} * {s()})"
        return f"np.{self.pick(('sin', 'cos', 'tanh'))}({s()})"

    # ------------------------------------------------------------ statements
    def extra_stmt_forms(self, scope, ctx):
        if not scope.arrays:
            return []
        local = [v for v in scope.arrays if _writable(v)]
        forms = ["newarr"] if len(local) < 3 else []
        if self.array_helpers:
            forms += ["acall"] * 3
        if local:
            forms += ["ewrite"] * 3 + ["rebind", "slicewrite"] * 2 + ["stencil", "viewwrite"]
            if len(local) >= 2:
                forms += ["swap"]
            if ctx.in_loop:   # loop-carried array updates: old values the reverse sweep needs
                forms += ["ewrite", "ewrite", "rebind", "stencil"] + ["swap"] * (len(local) >= 2)
        if local and ctx.depth < self.max_depth:
            forms += ["for", "for"]   # array programs are loops over arrays
        return forms

    def emit(self, form, scope, ctx):
        if form == "for" and any(_writable(v) for v in scope.arrays) and self.chance(60):
            # a loop whose body starts by updating an array (loop-carried array state)
            def first(body_scope, body_ctx):
                forms = ["ewrite", "ewrite", "rebind", "stencil", "slicewrite"]
                if sum(_writable(v) for v in body_scope.arrays) >= 2:
                    forms.append("swap")
                return self.emit_extra(self.pick(forms), body_scope, body_ctx)
            return self.for_loop(scope, ctx, first)
        return super().emit(form, scope, ctx)

    def emit_extra(self, form, scope, ctx):
        local = [v for v in scope.arrays if _writable(v)]
        if form == "acall":   # an array helper's result, rebinding a local or in a fresh one
            call = f"{self.pick(self.array_helpers)}({{}}, {self.expr(scope, 1)})"
            if local and self.chance(70):
                t = self.pick(local)
                return [f"{t} = {call.format(t)}"]
            name_ = self.fresh("buf")
            line = f"{name_} = {call.format(self.pick(scope.arrays))}"
            scope.arrays.append(name_)
            return [line]
        if form == "newarr":
            name_ = self.fresh("buf")
            kind = self.pick(("zeros", "copy", "expr", "full"))
            value = {"zeros": lambda: f"np.zeros({ARRAY_LEN})",
                     "copy": lambda: f"{self.pick(scope.arrays)}.copy()",
                     "expr": lambda: self._fresh_array(self.aexpr(scope)),
                     "full": lambda: f"np.full({ARRAY_LEN}, {self.expr(scope, 1)})"}[kind]()
            scope.arrays.append(name_)
            return [f"{name_} = {value}"]
        if form == "ewrite":
            t, i = self.pick(local), self.index(scope)
            op = self.pick(("=", "+=", "-=", "*="))
            if op == "*=":
                return [f"{t}[{i}] *= math.{self.pick(('cos', 'tanh'))}({self.expr(scope)})"]
            return [f"{t}[{i}] {op} {self.expr(scope)}"]
        if form == "rebind":   # a name bound to a new array (or to another local: aliasing)
            t = self.pick(local)
            value = self._fresh_array(self.aexpr(scope))
            return [f"{t} = {value}"]
        if form == "swap":
            a, b = self.draw(st.permutations(local))[:2]
            return [f"{a}, {b} = {b}, {a}"]
        if form == "slicewrite":
            t = self.pick(local)
            width = self.draw(st.integers(1, ARRAY_LEN))
            lo = self.draw(st.integers(0, ARRAY_LEN - width))
            op = self.pick(("=", "+="))
            return [f"{t}[{lo}:{lo + width}] {op} {self.sexpr(scope, width)}"]
        if form == "stencil":
            t = self.pick(local)
            return [f"{t}[1:-1] = {t}[1:-1] + 0.25 * math.tanh({self.expr(scope, 1)}) * "
                    f"({t}[2:] - 2.0 * {t}[1:-1] + {t}[:-2])"]
        if form == "viewwrite":   # a write through a view reaches the base array
            t = self.pick(local)
            lo = self.draw(st.integers(0, ARRAY_LEN - 2))
            hi = self.draw(st.integers(lo + 1, ARRAY_LEN))
            v = self.fresh("view")
            k = self.draw(st.integers(0, hi - lo - 1))
            op = self.pick(("=", "+="))
            return [f"{v} = {t}[{lo}:{hi}]", f"{v}[{k}] {op} {self.expr(scope)}"]
        raise AssertionError(form)

    def _fresh_array(self, value):
        """``value``, unless it names the argument array: then a copy (never write into ``arr``)."""
        return f"{value}.copy()" if not _writable(value) and value.isidentifier() else value


def _writable(name_):
    """Local arrays (``buf1``, ...) may be written; the argument ``arr`` may not."""
    return name_.startswith("buf")


def _indent(lines):
    return [INDENT + line if line else line for line in lines]


@st.composite
def programs(draw, *, max_stmts=10, max_depth=2, max_expr_depth=3, helpers=2,
             allow_int=True, small=False, arrays=False):
    """Random modules; with ``arrays``, ``f`` also takes a float array (see ArrayGen)."""
    gen = (ArrayGen if arrays else Gen)(
        draw, max_stmts=draw(st.integers(1, max_stmts)), max_depth=max_depth,
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
            elif isinstance(x, np.ndarray) and x.size:
                m = float(np.max(np.abs(x)))
                self.magnitude = max(self.magnitude, m) if math.isfinite(m) else math.inf
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
