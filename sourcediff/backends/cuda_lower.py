"""Generated functions rewritten for numba.cuda device code.

The transforms emit the same code for every backend; this pass rewrites a
generated function where the CUDA target differs from the CPU:

* NumPy scalar functions the CUDA target does not compile become ``math``
  functions or device helpers (``NUMPY_ON_CUDA``); any other use of NumPy
  (creating an array, say) is a TransformError at the user's line.
* A tape, a NumPy array that CPU code reserves and grows, becomes a
  ``cuda.local.array`` whose size is fixed when compiling: each push counts
  once per iteration of every loop around it, a ``for`` over a constant
  range by its length and any other loop by ``max_trips`` (a ``while`` loop
  one more, for the test that ends it).  A push in a loop with neither is a
  TransformError.
* Where ``max_trips`` sized a tape, a call may need more than it holds: the
  capacity checks of CPU code (before each loop, and in each ``while``
  iteration) set an overflow flag instead of growing the tape, tape indices
  are clamped so nothing is written or read out of bounds, and the call
  returns nan for every derivative.
"""
import ast

from ..codegen import const, number
from ..errors import TransformError, source_line

NUMPY_ON_CUDA = {"cbrt": "_rt.cbrt", "logaddexp": "_rt.logaddexp", "sign": "_rt.sign",
                 "floor": "math.floor", "ceil": "math.ceil", "trunc": "math.trunc"}
NUMPY_CREATION = {"empty", "zeros", "ones", "full", "empty_like", "zeros_like", "ones_like",
                  "full_like", "array", "arange", "linspace", "copy"}


def lower(fn, max_trips=None):
    """Rewrite the generated FunctionDef ``fn`` in place for the CUDA target; return it."""
    core = getattr(fn, "sd_core", None)
    tapes = getattr(fn, "sd_tapes", None)      # tape array name -> position name
    if tapes:
        Tapes(fn, set(tapes), max_trips, core).lower()
    NumpyOnCuda(core).visit(fn)
    return ast.fix_missing_locations(fn)


def error(node, core, message):
    """A TransformError at the user's line of ``node`` (the function's own line if it has none)."""
    source = core.source
    first = source.node.lineno
    last = getattr(source.node, "end_lineno", None) or first
    lineno = getattr(node, "lineno", None)
    if lineno is None or not first <= lineno <= last:
        lineno = first
    return TransformError(message, source.filename, lineno, source_line(source.filename, lineno))


class NumpyOnCuda(ast.NodeTransformer):
    def __init__(self, core):
        self.core = core

    def visit_Attribute(self, node):
        if not (isinstance(node.value, ast.Name) and node.value.id == "np"):
            return self.generic_visit(node)
        replacement = NUMPY_ON_CUDA.get(node.attr)
        if replacement is None:
            raise error(node, self.core, f"np.{node.attr} in code for backend='cuda': {self.advice(node)}")
        module, attr = replacement.split(".")
        return ast.copy_location(ast.Attribute(ast.Name(module, ast.Load()), attr, ast.Load()), node)

    def advice(self, node):
        if getattr(self.core.source.fn, "__module__", "").startswith("sd_"):     # see modules.module_name_of
            return ("this is code sourcediff generated for an inner transform, whose tape (for a loop that "
                    "overwrites values) is a NumPy array; on the GPU, transforms of transforms work where "
                    "the inner one keeps no tape: compute this derivative on the CPU backend")
        if node.attr in NUMPY_CREATION:
            return "device functions cannot create arrays; pass an array made on the host as an argument"
        return "the CUDA target has no such NumPy function of scalars; use the math module"


def constant_trips(loop):
    """How many times ``loop`` runs, where that is known without running it; else None."""
    if not isinstance(loop, ast.For):
        return None
    values = [number(a) for a in loop.iter.args]
    if any(not isinstance(v, int) for v in values):
        return None
    return len(range(*values))


class Tapes:
    """The tapes of one reverse-mode function as local arrays (see the module's docstring)."""

    def __init__(self, fn, names, max_trips, core):
        self.fn, self.names, self.max_trips, self.core = fn, names, max_trips, core
        self.sizes = dict.fromkeys(names, 0)
        self.guarded = set()       # tapes whose size rests on max_trips
        taken = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name)}
        self.overflow = "_overflow"
        while self.overflow in taken:
            self.overflow += "_"

    def lower(self):
        self.count(self.fn.body, [])
        self.fn.body = self.rewrite(self.fn.body)
        if self.guarded:
            Clamp(self).visit(self.fn)
            self.fn.body[-1:] = [self.nan_if_overflow(), self.fn.body[-1]]
            self.fn.body.insert(0, ast.Assign([ast.Name(self.overflow, ast.Store())], ast.Constant(False)))

    # ------------------------------------------------------------ sizes
    def pushed(self, stmt):
        """The tape ``stmt`` pushes onto (``tape[pos] = value``), else None."""
        if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Subscript):
            array = stmt.targets[0].value
            if isinstance(array, ast.Name) and array.id in self.names:
                return array.id
        return None

    def count(self, stmts, loops):
        for stmt in stmts:
            tape = self.pushed(stmt)
            if tape:
                self.sizes[tape] += self.repeats(loops, tape)
            elif isinstance(stmt, ast.If):
                self.count(stmt.body, loops)
                self.count(stmt.orelse, loops)
            elif isinstance(stmt, (ast.For, ast.While)):
                self.count(stmt.body, loops + [stmt])

    def repeats(self, loops, tape):
        """How many times, at most, a statement inside ``loops`` runs per call."""
        total = 1
        for loop in loops:
            trips = constant_trips(loop)
            if trips is None:
                if self.max_trips is None:
                    raise self.unbounded(loop)
                trips = self.max_trips + isinstance(loop, ast.While)
                self.guarded.add(tape)
            total *= trips
        return total

    def unbounded(self, loop):
        what = ("a while loop" if isinstance(loop, ast.While) else
                f"range({', '.join(ast.unparse(a) for a in loop.iter.args)})")
        return error(loop, self.core,
                     f"reverse mode on backend='cuda' keeps the values this loop overwrites in a "
                     f"local array whose size is fixed when the device function compiles, and the "
                     f"number of iterations of {what} is not known then. Give a bound: "
                     f"sd.grad(..., backend='cuda', max_trips=N) sizes the tape for N iterations of "
                     f"each such loop (a call that needs more returns nan derivatives); or loop over "
                     f"a constant range(...); or use forward mode, which needs no tape: "
                     f"sd.jvp(f, backend='cuda')")

    # ------------------------------------------------------------ rewriting
    def rewrite(self, stmts):
        out = []
        for stmt in stmts:
            reserve = self.reserve_of(stmt)
            if reserve is not None:
                out += self.capacity_check(*reserve)
                continue
            allocation = self.allocation(stmt)
            if allocation is not None:
                out.append(allocation)
                continue
            for field in ("body", "orelse"):
                if isinstance(stmt, (ast.If, ast.For, ast.While)) and getattr(stmt, field):
                    setattr(stmt, field, self.rewrite(getattr(stmt, field)))
            out.append(stmt)
        return out or [ast.Pass()]

    def reserve_of(self, stmt):
        """(tape, needed) for ``tape = _rt.reserve(tape, needed)`` or its ``if needed > size:`` guard."""
        if isinstance(stmt, ast.If) and len(stmt.body) == 1 and not stmt.orelse:
            inner = self.reserve_of(stmt.body[0])
            if inner is not None:
                return inner
        if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call) and \
                ast.unparse(stmt.value.func) == "_rt.reserve":
            tape = stmt.value.args[0].id
            if tape in self.names:
                return tape, stmt.value.args[1]
        return None

    def capacity_check(self, tape, needed):
        if tape not in self.guarded:
            return []           # the size is exact: nothing to check
        test = ast.Compare(needed, [ast.Gt()], [ast.Constant(self.size(tape))])
        return [ast.If(test, [ast.Assign([ast.Name(self.overflow, ast.Store())], ast.Constant(True))], [])]

    def allocation(self, stmt):
        """``tape = cuda.local.array(size, dtype)`` for the prologue's ``tape = np.empty(...)``."""
        if not (isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name)
                and stmt.targets[0].id in self.names and isinstance(stmt.value, ast.Call)
                and ast.unparse(stmt.value.func) == "np.empty"):
            return None
        tape = stmt.targets[0].id
        dtype = "int64" if len(stmt.value.args) > 1 else "float64"
        call = ast.parse(f"cuda.local.array({self.size(tape)}, {dtype})", mode="eval").body
        return ast.copy_location(ast.Assign([ast.Name(tape, ast.Store())], call), stmt)

    def size(self, tape):
        return max(self.sizes[tape], 1)     # CUDA has no empty local arrays

    def nan_if_overflow(self):
        """``if overflow: x_bar = nan ...`` for the derivatives the function returns."""
        returned = self.fn.body[-1].value.elts[getattr(self.fn, "sd_values", len(self.core.outputs)):]
        nans = [ast.Assign([ast.Name(e.id, ast.Store())], const(float("nan")))
                for e in returned if isinstance(e, ast.Name)]
        return ast.If(ast.Name(self.overflow, ast.Load()), nans or [ast.Pass()], [])


class Clamp(ast.NodeTransformer):
    """``tape[pos]`` as ``tape[min(pos, size - 1)]``, so an overflowing call stays in bounds."""

    def __init__(self, tapes):
        self.tapes = tapes

    def visit_Subscript(self, node):
        self.generic_visit(node)
        if isinstance(node.value, ast.Name) and node.value.id in self.tapes.guarded:
            last = ast.Constant(self.tapes.size(node.value.id) - 1)
            node.slice = ast.Call(ast.Name("min", ast.Load()), [node.slice, last], [])
        return node
