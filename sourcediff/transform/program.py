"""A generated module: the functions a transform needs, each specialised once.

A function is specialised on (user function, argument kinds, mode, which
arguments are differentiated).  Requesting one names it at once and
generates it later, so recursive functions call themselves by name.
"""
import ast
import copy
import threading
from collections import Counter

from .. import kinds as K
from ..analysis import activity, tape
from ..analysis.dataflow import (assigned_names, index_length, is_element_index, is_write, op_kind, read_names,
                                 walk)
from ..analysis.types import Types
from ..codegen import Naming, fold, tidy
from ..dead_code import allocated_lengths, assigned_values, loop_targets, prune, pure, shape_index
from ..errors import TransformError, error_at
from ..custom import CustomCall, is_custom
from ..frontend import custom_rules
from ..frontend.normalize import in_place_updates, normalize
from ..frontend.parse import parse, python_function
from .adjoint_reuse import reuse_adjoints
from .common import call_args_kinds, primal_function
from .first_writes import write_first_sums
from .forward import Forward
from .loop_order import run_forwards
from .reverse import Reverse
from .tape_segments import use_segments
from .vector_forward import vectorize

_lock = threading.RLock()
_cores = {}
_types = {}
_guess = {}
_unreadable = set()      # final forms of transforms the front end cannot read


def concrete(fn, kinds=None):
    """The Python function that runs for ``fn`` (a transformed function's generated one)."""
    if hasattr(fn, "sd_python_function"):
        return fn.sd_python_function(kinds)
    if isinstance(fn, CustomCall):
        return custom_rules.body(fn)
    if is_custom(fn):
        return custom_rules.top_level(fn)
    return python_function(fn)


_normalizing = set()


def core_of(fn):
    with _lock:
        if fn not in _cores:
            _normalizing.add(fn)
            try:
                _cores[fn] = normalize(fn, arity)
            finally:
                _normalizing.discard(fn)
        return _cores[fn]


def arity(fn):
    """How many values ``fn`` returns (read from its returns while it is being normalised)."""
    if hasattr(fn, "sd_arity"):       # a transform applied in code: its flat results
        return fn.sd_arity
    fn = concrete(fn)
    if fn in _normalizing:
        returns = [n.value for n in ast.walk(parse(fn).node) if isinstance(n, ast.Return)]
        return max((len(r.elts) if isinstance(r, ast.Tuple) else 1 for r in returns), default=1)
    return len(core_of(fn).outputs)


def types_of(fn, kinds):
    key = (fn, kinds)
    with _lock:
        if key in _types:
            return _types[key]
        core = core_of(fn)
        if len(kinds) != len(core.params):
            raise error_at(core.source.node, core.source,
                           f"{core.name} takes {len(core.params)} arguments, got {len(kinds)}")
        _guess[key] = None
        _guesses_read.append(set())
        try:
            for _ in range(8):
                types = Types(core, kinds, _callee_result)
                if types.result == _guess[key]:
                    break
                _guess[key] = types.result
            updated = in_place_updates(core, lambda n: getattr(types.env.get(n), "ndim", None))
            if updated is not None:
                types = Types(updated, kinds, _callee_result)
        finally:
            del _guess[key]
            read = _guesses_read.pop() - {key}
        if types.result is None:
            raise error_at(core.source.node, core.source,
                           f"cannot determine what {core.name} returns (a recursion without a base case?)")
        if read:        # typed with a caller's result still a guess (mutual recursion): typed again later
            _guesses_read[-1] |= read
        else:
            _types[key] = types
        return types


_guesses_read = [set()]     # a stack: the guessed results each types_of in progress has read


def _callee_result(fn, kinds, stmt):
    fn = concrete(fn, kinds)
    if (fn, kinds) in _guess:
        _guesses_read[-1].add((fn, kinds))
        return _guess[(fn, kinds)]
    return types_of(fn, kinds).result


def _still_called(functions, roots):
    """``functions`` less those the calls left after dead-code elimination no longer reach
    from ``roots`` (a helper whose every result went unread, say)."""
    by_name = {f.name: f for f in functions}
    reached, todo = set(), [r for r in roots if r in by_name]
    while todo:
        fn_name = todo.pop()
        if fn_name not in reached:
            reached.add(fn_name)
            todo += [n.id for n in ast.walk(by_name[fn_name]) if isinstance(n, ast.Name) and n.id in by_name]
    return [f for f in functions if f.name in reached]


def writes_arguments(fn, kinds, seen=None):
    """Positions of the array arguments ``fn`` writes into (directly, through views or callees)."""
    seen = set() if seen is None else seen
    key = (concrete(fn, kinds), tuple(kinds))
    if key in seen:
        return set()
    seen.add(key)
    types = types_of(*key)
    core = types.core
    groups = tape.alias_groups(core, types)
    written = set()
    for stmt in walk(core.body):
        if isinstance(stmt, ast.Assign) and is_write(stmt):
            written |= groups.get(stmt.targets[0].value.id, {stmt.targets[0].value.id})
        elif isinstance(stmt, ast.Assign) and op_kind(stmt.value) == "call":
            args = stmt.value.args
            inner = writes_arguments(stmt.value.sd_func, call_args_kinds(stmt.value, types), seen)
            for k in inner:
                if isinstance(args[k], ast.Name):
                    written |= groups.get(args[k].id, {args[k].id})
    return {k for k, p in enumerate(core.params) if p in written}


def _callees(fn, kinds):
    """(function, argument kinds) of each user function ``fn`` calls."""
    types = types_of(concrete(fn, kinds), tuple(kinds))
    return [(concrete(s.value.sd_func, call_args_kinds(s.value, types)), call_args_kinds(s.value, types))
            for s in walk(types.core.body) if isinstance(s, ast.Assign) and op_kind(s.value) == "call"]


_splittable = {}


def splittable(fn, kinds):
    """Whether calls of ``fn`` are reversed in split mode (see ``Reverse.split_functions``):
    ``fn`` recurses, so its VJP run in joint mode would run each call's subtree once per
    level above it, and it keeps only numbers across its forward sweep (no local arrays,
    element writes only, into float64 or int64 arrays; number results; no custom rules;
    its other callees write no arguments)."""
    key = (concrete(fn, kinds), tuple(kinds))
    if key not in _splittable:
        _splittable[key] = _recurses(key) and _keeps_numbers(*key) and all(
            _recurses(callee) or not writes_arguments(*callee) for callee in _callees(*key))
    return _splittable[key]


def _recurses(start):
    seen, todo = set(), [start]
    while todo:
        for callee in _callees(*todo.pop()):
            if callee == start:
                return True
            if callee not in seen:
                seen.add(callee)
                todo.append(callee)
    return False


def _keeps_numbers(fn, kinds):
    types = types_of(fn, kinds)
    core = types.core
    if not all(types.of(o) in K.SCALARS for o in core.outputs):
        return False
    for var, kind in types.env.items():
        if isinstance(kind, K.Array) and (var not in core.params or kind.dtype not in ("float64", "int64")):
            return False
        if not (kind in K.SCALARS or isinstance(kind, K.Array)):
            return False
    for stmt in walk(core.body):
        if isinstance(stmt, ast.Assign) and op_kind(stmt.value) == "custom":
            return False
        if isinstance(stmt, ast.Assign) and is_write(stmt):
            target = stmt.targets[0]
            if not (is_element_index(target.slice) and
                    index_length(target.slice) == types.env[target.value.id].ndim):
                return False
    return True


# "cotangents": a VJP called by other reverse code, which has the primal results already and
# takes only the arguments' cotangents; "consuming": one whose caller passes arrays for the
# array results' adjoints and reads them no more, so it may use them as its own
# "grads": a VJP returning only the cotangents; "jvps": a JVP of many tangents
SUFFIXES = {"cotangents": "vjp", "consuming": "vjp", "grads": "vjp"}


def _shape_use(node, var):
    """Whether ``node`` reads only the shape of the array ``var``: ``np.zeros_like(var)``, ``var.shape[d]``."""
    if isinstance(node, ast.Call):
        return isinstance(node.func, ast.Attribute) and node.func.attr == "zeros_like" and not node.keywords \
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "np" and len(node.args) == 1 \
            and isinstance(node.args[0], ast.Name) and node.args[0].id == var
    found = shape_index(node)
    return found is not None and found[0] == var and found[1] >= 0


def return_shapes(fn_def, types, written_by=None):
    """Make the primal ``fn_def`` return its array results' lengths, ``a.shape[0], ...``,
    all that a Jacobian taken in code needs of its results, so that dead-code elimination
    leaves only what they depend on."""
    ret = fn_def.body[-1]
    values = ret.value.elts if isinstance(ret.value, ast.Tuple) else [ret.value]
    lengths = [ast.parse(f"{v.id}.shape[{d}]", mode="eval").body
               for v in values if isinstance(types.of(v), K.Array) for d in range(types.of(v).ndim)]
    ret.value = lengths[0] if len(lengths) == 1 else ast.Tuple(elts=lengths, ctx=ast.Load())
    _keep_what_lengths_read(fn_def, written_by)


def _keep_what_lengths_read(fn_def, written_by):
    """Cut a ``_shapes`` function to the top-level assignments its lengths read, after writing
    each ``a.shape[d]`` as the length ``a`` was allocated with.  Dead-code elimination, by name,
    keeps a loop that fills arrays from one another's elements and calls helpers with them,
    though no length depends on it.  Left as it is where a name the lengths need is bound more
    than once, inside a block, or by a call, or has its elements written (``written_by(call)``:
    the arguments a helper's call writes into)."""
    ret = fn_def.body[-1]
    params = {a.arg for a in fn_def.args.args}
    bindings = assigned_values(fn_def)
    loops = loop_targets(fn_def)
    changed = {n for node in ast.walk(fn_def) for n in _changed_through(node, written_by)}
    allocated = allocated_lengths(fn_def)

    def fixed(n):       # bound once (a local), never (a parameter, a global), and never changed
        return n not in loops and n not in changed and len(bindings.get(n, ())) <= (n not in params)

    class Fold(ast.NodeTransformer):        # a.shape[d] -> the length a was allocated with there
        def visit_Subscript(self, node):
            found = shape_index(node)
            dims = allocated.get(found[0], []) if found else []
            if found and 0 <= found[1] < len(dims):
                return copy.deepcopy(dims[found[1]])
            return self.generic_visit(node)

    value = Fold().visit(copy.deepcopy(ret.value))
    needed = read_names([value])
    kept = []
    for stmt in reversed(fn_def.body[:-1]):
        bound = set(assigned_names([stmt]))
        if not bound & needed:
            continue
        if not (isinstance(stmt, ast.Assign) and all(isinstance(t, ast.Name) for t in stmt.targets) and pure(stmt.value)):
            return
        kept.insert(0, stmt)
        needed |= read_names([stmt.value])
    if all(fixed(n) for n in needed):
        ret.value = value
        fn_def.body[:] = kept + [ret]


def _changed_through(node, written_by):
    """The names whose elements ``node`` may change: a write's or update's array, what a call writes into."""
    if isinstance(node, (ast.Assign, ast.AugAssign)):
        for target in getattr(node, "targets", [getattr(node, "target", None)]):
            if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
                yield target.value.id
            if isinstance(node, ast.AugAssign) and isinstance(target, ast.Name):
                yield target.id
    if isinstance(node, ast.Call) and not pure(node):
        if getattr(node, "sd_func", None) is not None and written_by is not None:
            yield from written_by(node)
        else:
            yield from (a.id for a in node.args if isinstance(a, ast.Name))


def accumulated_adjoints(fn, kinds, mask):
    """Positions of the array parameters whose adjoints a "cotangents" VJP adds into the
    caller's adjoint arrays, passed after its results' adjoints, instead of returning new
    ones: the differentiated array parameters it never rebinds or writes into."""
    types = types_of(concrete(fn, kinds), tuple(kinds))
    bound = assigned_names(types.core.body)
    return [k for k, (p, m) in enumerate(zip(types.core.params, mask))
            if m and isinstance(types.env[p], K.Array) and p not in bound]


class Program:
    def __init__(self, final=True, vector=True):
        # final: the code runs as it is, no other transform reads it, so it may take forms
        # outside the accepted subset: helpers' VJPs adding into their callers' adjoints,
        # adjoints of rebound arrays allocated in the backward sweep
        self.final = final
        self.vector = vector      # jacfwd may use vector JVPs (vector_forward.NotVectorizable: not)
        self.used_final_forms = False
        self.names = {}       # (fn, kinds, mode, mask) -> function name
        self.pending = []
        self.functions = []   # generated FunctionDefs, in order
        self.taken = set()
        self.extra = []       # hand-built wrappers
        self.calls = {}       # function name -> names it calls
        self.roots = set()    # names requested from outside the generated functions
        self.origins = {}     # primal function name -> what it stands for (see resolve.classify)
        self._current = None

    def unique(self, stem):
        candidate, i = stem, 2
        while candidate in self.taken:
            candidate, i = f"{stem}_{i}", i + 1
        self.taken.add(candidate)
        return candidate

    def request(self, fn, kinds, mode, mask):
        origin = fn
        fn = self._as_is(fn, kinds) if mode == "primal" and self.final else None
        fn = fn or concrete(origin, kinds)
        key = (fn, tuple(kinds), mode, mask)
        if mode in ("fwd", "bwd") and key not in self.names:      # one generation makes both
            for half in ("fwd", "bwd"):
                self.names[(fn, tuple(kinds), half, mask)] = self.unique(f"{core_of(fn).name}_{half}")
            self.pending.append((fn, tuple(kinds), "fwd", mask))
        if key not in self.names:
            base = core_of(fn).name
            self.names[key] = self.unique(base if mode == "primal" else f"{base}_{SUFFIXES.get(mode, mode)}")
            self.pending.append(key)
            if mode == "primal":
                self.origins[self.names[key]] = origin
        if self._current is not None:
            self.calls.setdefault(self._current, set()).add(self.names[key])
        else:
            self.roots.add(self.names[key])
        return self.names[key]

    @staticmethod
    def _as_is(fn, kinds):
        """A transform's code in its final form, for a caller that only runs it; None where
        that form lies outside what the front end reads (a helper's VJP called for its
        writes into its arguments)."""
        if not hasattr(fn, "sd_python_function"):
            return None
        final = fn.sd_python_function(kinds, runs_as_is=True)
        if final not in _unreadable:
            try:
                core_of(final)
                return final
            except TransformError:
                _unreadable.add(final)
        return None

    writes_arguments = staticmethod(writes_arguments)

    def splits(self, fn, kinds):
        """Whether a reverse sweep calls ``fn``'s split halves (code that runs as it is only)."""
        if self.final and splittable(fn, kinds):
            self.used_final_forms = True
            return True
        return False

    def _shapes_for_zeros(self, fn_def, naming):
        """Where an array a helper returns is read only for its shape (``np.zeros_like(a)``, an
        adjoint's allocation, and ``a.shape[d]``), call the helper's ``_shapes`` function for its
        lengths instead of running it (see ``return_shapes``).  Returns whether anything changed."""
        primals = {n: key for key, n in self.names.items() if key[2] == "primal"}
        loads = Counter(n.id for n in ast.walk(fn_def) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load))
        bindings = assigned_values(fn_def)
        changed = False
        for k, stmt in enumerate(fn_def.body):
            if not (isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name)
                    and isinstance(stmt.value, ast.Call) and isinstance(stmt.value.func, ast.Name)
                    and stmt.value.func.id in primals):
                continue
            var = stmt.targets[0].id
            fn, kinds, _, _ = primals[stmt.value.func.id]
            result = types_of(fn, kinds).result
            uses = [node for node in ast.walk(fn_def) if _shape_use(node, var)]
            if not uses or len(uses) != loads[var] or not isinstance(result, K.Array) \
                    or self.writes_arguments(fn, kinds) or len(bindings[var]) != 1:
                continue
            lengths = [naming.unique(f"_{var}_len{d}") for d in range(result.ndim)]
            stores = [ast.Name(n, ast.Store()) for n in lengths]
            fn_def.body[k] = ast.Assign(targets=[stores[0] if len(stores) == 1 else ast.Tuple(elts=stores, ctx=ast.Store())],
                                        value=ast.Call(func=ast.Name(self.request(fn, kinds, "shapes", None), ast.Load()),
                                                       args=stmt.value.args, keywords=[]))

            class Lengths(ast.NodeTransformer):
                def visit_Call(self, node):
                    if not _shape_use(node, var):
                        return self.generic_visit(node)
                    node.func.attr = "zeros"
                    node.args = [ast.Tuple(elts=[ast.Name(n, ast.Load()) for n in lengths], ctx=ast.Load()),
                                 ast.Attribute(value=ast.Name("np", ast.Load()), attr=result.dtype, ctx=ast.Load())]
                    return node

                def visit_Subscript(self, node):
                    return ast.Name(lengths[node.slice.value], ast.Load()) if _shape_use(node, var) \
                        else self.generic_visit(node)
            Lengths().visit(fn_def)
            changed = True
        return changed

    @property
    def vector_names(self):
        return {n for (_, _, mode, _), n in self.names.items() if mode == "jvps"}

    def accumulated_adjoints(self, fn, kinds, mask):
        """Positions whose adjoints a "cotangents" VJP of ``fn`` adds into (see the function)."""
        if not self.final:
            return []
        positions = accumulated_adjoints(fn, kinds, mask)
        self.used_final_forms |= bool(positions)
        return positions

    def written_in_place(self, expr, types):
        """The names of the arrays the operation ``expr`` (in the code typed by ``types``) writes
        into in place: a helper's array arguments, or the adjoint ``_rt.accumulate`` adds into."""
        if op_kind(expr) != "call":
            return activity.accumulated_into(expr)
        positions = self.writes_arguments(expr.sd_func, call_args_kinds(expr, types))
        return [expr.args[k].id for k in sorted(positions) if isinstance(expr.args[k], ast.Name)]

    def add(self, fn_def):
        """A hand-built entry function; it runs as plain Python around the compiled ones."""
        fn_def.sd_python_only = True
        self.extra.append(fn_def)

    def build(self):
        while self.pending:
            key = self.pending.pop(0)
            self._current = self.names[key]
            self.functions += self.generate(key)
        self._current = None
        roots = self.roots | {n.id for f in self.extra for n in ast.walk(f) if isinstance(n, ast.Name)}
        return _still_called(self.functions, roots) + self.extra

    @property
    def recursive(self):
        """Whether some generated function calls itself, directly or not."""
        def reaches(start, goal, seen):
            for callee in self.calls.get(start, ()):
                if callee == goal or (callee not in seen and not seen.add(callee)
                                      and reaches(callee, goal, seen)):
                    return True
            return False
        return any(reaches(name, name, set()) for name in self.calls)

    def generate(self, key):
        fn, kinds, mode, mask = key
        types = types_of(fn, kinds)
        core = types.core          # with in-place array updates made writes
        fn_name = self.names[key]
        taken = set(types.env) | core.temps | {"math", "np", "_rt"}
        naming = Naming(taken | {n.id for n in ast.walk(ast.Module(core.body, [])) if isinstance(n, ast.Name)})
        if mode in ("primal", "shapes"):
            fn_def = primal_function(core, types, self, fn_name)
            if mode == "shapes":
                return_shapes(fn_def, types, lambda call: self.written_in_place(call, types))
        else:
            params = [p for p, m in zip(core.params, mask) if m]
            for p in params:
                if not K.is_float(types.env[p]):
                    raise error_at(core.source.node, core.source,
                                   f"cannot differentiate with respect to `{p}` of {core.name}: "
                                   f"it is {types.env[p]}; pass a float")
            tape.refuse_writes_after_ravel(core, types)
            written = [core.params[k] for k in self.writes_arguments(fn, kinds)]
            active = activity.active_variables(core, types, params,
                                               lambda expr: self.written_in_place(expr, types), written)
            if mode in ("jvp", "jvps"):
                fn_def = Forward(core, types, active, mask, self, naming, vector=mode == "jvps").function(fn_name)
            else:
                # a split forward half leaves the arrays it writes as the backward half finds them
                plan = tape.plan(core, types, active, restored=written if mode == "fwd" else ())
                multiple = tape.multiply_assigned(core)
                accumulated = [] if mode in ("vjp", "grads") else \
                    [core.params[k] for k in self.accumulated_adjoints(fn, kinds, mask)]
                reverse = Reverse(core, types, plan, mask, self, naming, multiple, accumulated,
                                  consuming=mode == "consuming", split=mode == "fwd")
                halves = reverse.split_functions(fn_name, self.names[(fn, kinds, "bwd", mask)]) \
                    if mode == "fwd" else [reverse.function(fn_name, values=mode == "vjp")]
                for half in halves:
                    half.sd_tapes = dict(reverse.tapes.values())     # array name -> position name
                return [self._finish(half, key, core, types, naming) for half in halves]
        return [self._finish(fn_def, key, core, types, naming)]

    def _finish(self, fn_def, key, core, types, naming):
        """The passes over a generated function: folding, dead code, and for reverse code the
        reuse of adjoints, loop order, first writes and tape segments."""
        mode = key[2]
        fn_def.sd_core = core       # for backends that rewrite the function (numba_cuda)
        temps = core.temps | set(naming.derived_from(core.temps))
        fold(fn_def, lambda n: n in temps)
        prune(fn_def)
        tidy(fn_def)
        if mode == "jvps":
            tangents = {t: types.env[v] for (v, suffix), t in naming.map.items() if suffix == "dot"}
            vectorize(fn_def, tangents, types, len(core.outputs), self.vector_names)
        if mode not in ("primal", "shapes", "jvp", "jvps"):
            if self.final and self._shapes_for_zeros(fn_def, naming):
                prune(fn_def)
            reuse_adjoints(fn_def)
            ndims, adjoints, consumed = fn_def.sd_aliasing
            run_forwards(fn_def, ndims, adjoints, consumed | set(fn_def.sd_tapes), fn_def.sd_tapes.values())
            write_first_sums(fn_def, ndims)
            if self.final:     # the CUDA lowering and the front end read tapes only as tape[pos]
                use_segments(fn_def, fn_def.sd_tapes, naming.unique)
        return ast.fix_missing_locations(fn_def)
