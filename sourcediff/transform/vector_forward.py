"""Vector forward mode: one sweep carries many tangents, so the primal runs once for them all.

A JVP (see ``forward``) becomes one whose tangents have a last axis of length
``_np``, an entry per direction: a number's tangent is an array of ``_np``
numbers, an array's tangent has that axis after its own.  Primal statements stay
as they are.  A tangent statement on numbers runs once per direction::

    y_dot = x_dot * math.cos(x)     ->   for _p in range(_np):
                                             y_dot[_p] = x_dot[_p] * math.cos(x)

and array tangents are allocated, viewed, copied and passed whole, their last
axis riding along.  Where a direction loop sets a number's tangent before reading it,
the tangent is a local of the loop (``y_dot_p``).  ``jacfwd`` uses it for all the
columns of a Jacobian at once.

Code whose tangents take any other form (array expressions such as
``x_dot * np.cos(x)``, custom rules, another transform's tapes) raises
``NotVectorizable``; the caller then sweeps once per direction.
"""
import ast
import copy

from .. import kinds as K
from ..codegen import Naming
from ..dead_code import pure
from ..frontend.normalize import name

DIRECTIONS = "_np"
DIRECTION = "_p"


class NotVectorizable(Exception):
    """A tangent in a form vector forward mode does not handle (the message shows it)."""


def vectorize(fn_def, tangents, types, n_outputs, vector_callees):
    """Rewrite the JVP ``fn_def`` in place.  ``tangents``: tangent name -> its primal's kind;
    ``n_outputs``: how many primal results its return starts with; ``vector_callees``: the
    names of the vector JVPs it calls (each takes ``_np`` last)."""
    params = [a.arg for a in fn_def.args.args]
    rewrite = _Vectorize(tangents, types, vector_callees, params,
                         {n.id for n in ast.walk(fn_def) if isinstance(n, ast.Name)} | set(params))
    body = rewrite.block(fn_def.body[:-1]) + rewrite.result(fn_def.body[-1], n_outputs)
    prologue = [ast.parse(f"{t} = {t}.copy()").body[0] for t in rewrite.owned if t in params]
    fresh = _locals_per_direction(body, [t for t in rewrite.owned if t not in params], rewrite.naming)
    if fresh:       # one allocation for every number's tangent, a row each
        prologue.append(ast.parse(f"_dots = np.empty(({len(fresh)}, {DIRECTIONS}))").body[0])
        prologue += [ast.parse(f"{t} = _dots[{k}]").body[0] for k, t in enumerate(fresh)]
    fn_def.body = prologue + body
    fn_def.args.args.append(ast.arg(DIRECTIONS))
    return fn_def


def _locals_per_direction(body, rows, naming):
    """In each direction loop of ``body``, a number's tangent that the loop sets before
    reading it becomes a local there, stored into its row at the end only where code outside
    the loop reads it (Numba cannot keep ``t_dot[_p]`` in a register: any array written may
    share its memory).  The rows still read afterwards."""
    tree = ast.Module(body=body, type_ignores=[])
    for loop in [s for s in ast.walk(tree) if _is_direction_loop(s)]:
        for row in rows:
            inside = [n for s in loop.body for n in ast.walk(s) if isinstance(n, ast.Name) and n.id == row]
            elements = [n for s in loop.body for n in ast.walk(s) if _is_element_of(n, row)]
            if not _set_first(loop.body, row) or len(inside) != len(elements) or len(elements) < 2:
                continue            # not set first, read whole (by a call), or not read here
            local = naming.unique(f"{row}_p")
            for stmt in loop.body:
                _Replace(row, local).visit(stmt)
            if row in _read(tree):
                loop.body.append(ast.parse(f"{row}[{DIRECTION}] = {local}").body[0])
    return [row for row in rows if row in _read(tree)]


def _is_element_of(node, row):
    return isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == row \
        and isinstance(node.slice, ast.Name) and node.slice.id == DIRECTION


def _set_first(body, row):
    """Whether the first statement of ``body`` mentioning ``row`` is ``row[_p] = e``, e not reading it."""
    for stmt in body:
        if row in _read(stmt):          # a row is only read, or written into: never bound here
            return isinstance(stmt, ast.Assign) and _is_element_of(stmt.targets[0], row) and \
                row not in _read(stmt.value)
    return False


class _Replace(ast.NodeTransformer):
    def __init__(self, row, local):
        self.row, self.local = row, local

    def visit_Subscript(self, node):
        if _is_element_of(node, self.row):
            return ast.copy_location(name(self.local, type(node.ctx)()), node)
        return self.generic_visit(node)


def _each_direction(stmt):
    return ast.For(target=name(DIRECTION, ast.Store()),
                   iter=ast.Call(func=name("range"), args=[name(DIRECTIONS)], keywords=[]),
                   body=[stmt], orelse=[], lineno=getattr(stmt, "lineno", 0))


class _Vectorize:
    def __init__(self, tangents, types, vector_callees, params, taken):
        self.tangents, self.types, self.callees, self.params = tangents, types, vector_callees, params
        self.naming = Naming(taken)
        self.owned = []         # numbers' tangents written per direction: each needs its own row

    def is_number(self, n):
        return n in self.tangents and K.is_float(self.tangents[n]) and not isinstance(self.tangents[n], K.Array)

    def is_array(self, n):
        return n in self.tangents and isinstance(self.tangents[n], K.Array)

    def mentions(self, node):
        return any(isinstance(n, ast.Name) and n.id in self.tangents for n in ast.walk(node))

    def refuse(self, node):
        raise NotVectorizable(ast.unparse(node))

    def plain(self, node):
        """``node`` must mention no tangent (a loop bound, a test, an index)."""
        if node is not None and self.mentions(node):
            self.refuse(node)
        return node

    # ------------------------------------------------------------------ statements

    def block(self, stmts):
        out = []
        for stmt in stmts:
            out.extend(self.statement(stmt))
        return _fuse(out, self.tangents) or [ast.Pass()]

    def statement(self, stmt):
        if isinstance(stmt, (ast.For, ast.While, ast.If)):
            self.plain(stmt.iter if isinstance(stmt, ast.For) else stmt.test)
            stmt.body = self.block(stmt.body)
            stmt.orelse = self.block(stmt.orelse) if stmt.orelse else []
            return self.interchange(stmt) if isinstance(stmt, ast.For) else [stmt]
        if not self.mentions(stmt):
            return [stmt]
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target, value = stmt.targets[0], stmt.value
            if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id in self.callees:
                return [self.call(stmt)]
            if self.number_target(target):
                return [self.per_direction(stmt, target)]
            if self.array_target(target):
                stmt.value = self.whole(value, view_target=isinstance(target, ast.Subscript))
                return [stmt]
        if isinstance(stmt, ast.AugAssign) and self.number_target(stmt.target):
            return [self.per_direction(stmt, stmt.target)]
        self.refuse(stmt)

    def interchange(self, loop):
        """A loop of a few iterations, ``for k in range(4)``, whose body is direction loops and
        primal assignments: its primal part runs as it is, then each direction runs the loop's
        tangent part, with the primal assignments that part reads again in front of it::

            for k in range(4):                       for k in range(4):
                t = b[v, k]                              t = b[v, k]
                for _p in range(_np):          ->        s = s + c[k] * t
                    s_dot[_p] += t * c_dot[k, _p]    for _p in range(_np):
                s = s + c[k] * t                         for k in range(4):
                                                             t = b[v, k]
                                                             s_dot[_p] += t * c_dot[k, _p]

        so that a tangent summed over the loop stays in a register, and the directions fill
        vector lanes once the short loop is unrolled."""
        if not (_few_iterations(loop) and isinstance(loop.target, ast.Name)) or loop.orelse:
            return [loop]
        body = loop.body
        if not any(map(_is_direction_loop, body)) or not all(
                _is_direction_loop(s) or isinstance(s, ast.Assign) and not self.mentions(s) for s in body):
            return [loop]
        primal = [s for s in body if not _is_direction_loop(s)]
        written = {loop.target.id}.union(*(_written(s) or {"*"} for s in primal))
        if "*" in written:
            return [loop]
        assigned = [t.id for s in primal for t in s.targets if isinstance(t, ast.Name)]
        known, per_direction = {loop.target.id}, []
        for s in body:
            if _is_direction_loop(s):
                if _needs(s) & written - known:
                    return [loop]
                per_direction.extend(s.body)
            elif len(s.targets) == 1 and isinstance(s.targets[0], ast.Name) and assigned.count(s.targets[0].id) == 1 \
                    and pure(s.value) and not (_read(s.value) & written - known):
                per_direction.append(copy.deepcopy(s))      # computed again for each direction
                known.add(s.targets[0].id)
        needed, kept = set(), []
        for s in reversed(per_direction):   # of the primal assignments, only what the tangents read
            if isinstance(s, ast.Assign) and isinstance(s.targets[0], ast.Name) and s.targets[0].id in known:
                if s.targets[0].id not in needed:
                    continue
                needed |= _read(s.value)
            else:
                needed |= _read(s)
            kept.insert(0, s)
        # the names the tangent part sets are its own: it may then move past any statement
        own = {n: self.fresh(n) for n in known}
        for node in ast.walk(ast.Module(body=kept, type_ignores=[])):
            if isinstance(node, ast.Name) and node.id in own:
                node.id = own[node.id]
        loop.body = primal or [ast.Pass()]
        inner = ast.For(target=name(own[loop.target.id], ast.Store()), iter=copy.deepcopy(loop.iter),
                        body=kept, orelse=[], lineno=loop.lineno)
        return [loop, _each_direction(inner)]

    def fresh(self, stem):
        return self.naming.unique(f"{stem}_each")

    def per_direction(self, stmt, target):
        if isinstance(target, ast.Name) and target.id not in self.owned:
            self.owned.append(target.id)
        new = copy.copy(stmt)
        if isinstance(stmt, ast.AugAssign):
            new.target, new.value = self.element(target), self.elementwise(stmt.value)
        else:
            new.targets, new.value = [self.element(target)], self.elementwise(stmt.value)
        return _each_direction(new)

    def call(self, stmt):
        """A callee's vector JVP: tangents pass whole (an element of an array's tangent as the
        view of its directions), and the number of directions last."""
        call = stmt.value
        for a in call.args:
            if self.mentions(a) and not (isinstance(a, ast.Name) or isinstance(a, ast.Subscript)
                                         and (self.is_view(a) or self.is_element(a))):
                self.refuse(a)
        call.args.append(name(DIRECTIONS))
        return stmt

    def result(self, ret, n_outputs):
        """The return: primal results as they are, then a tangent for each float result, each
        in an array no other name holds (the caller may write into it)."""
        values = ret.value.elts if isinstance(ret.value, ast.Tuple) else [ret.value]
        primals, dots = values[:n_outputs], values[n_outputs:]
        for v in primals:
            self.plain(v)
        returned, before = [], []
        for k, dot in enumerate(dots):
            if isinstance(dot, ast.Name) and self.is_array(dot.id):
                returned.append(dot)
            elif isinstance(dot, ast.Name) and self.is_number(dot.id):
                shared = (dot.id in self.params and dot.id not in self.owned) or \
                    any(isinstance(d, ast.Name) and d.id == dot.id for d in dots[:k])
                returned.append(ast.parse(f"{dot.id}.copy()", mode="eval").body if shared else dot)
            elif self.mentions(dot) or isinstance(dot, ast.Constant):     # a number's tangent
                held = f"_dot{k}"
                before += [ast.parse(f"{held} = np.empty({DIRECTIONS})").body[0],
                           _each_direction(ast.Assign(targets=[self.element(name(held, ast.Store()))],
                                                      value=self.elementwise(dot), lineno=0))]
                returned.append(name(held))
            else:
                returned.append(self.whole(dot, view_target=False))
        return before + [ast.Return(value=ast.Tuple(elts=primals + returned, ctx=ast.Load()))]

    # ------------------------------------------------------------------ forms of tangents

    def index_parts(self, subscript):
        parts = subscript.slice.elts if isinstance(subscript.slice, ast.Tuple) else [subscript.slice]
        for p in parts:
            self.plain(p)
            if isinstance(p, ast.Constant) and (p.value is None or p.value is Ellipsis):
                self.refuse(subscript)
            if any(isinstance(n, ast.Name) and isinstance(self.types.env.get(n.id), K.Array)
                   for n in ast.walk(p)):
                self.refuse(subscript)          # indexing by an array of indices
        return parts

    def is_element(self, node):
        """``a_dot[i, j]``: one number of an array's tangent (all its axes indexed)."""
        if not (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and self.is_array(node.value.id)):
            return False
        parts = self.index_parts(node)
        ndim = self.tangents[node.value.id].ndim
        return ndim > 0 and len(parts) == ndim and not any(isinstance(p, ast.Slice) for p in parts)

    def is_view(self, node):
        """``a_dot[i]``, ``a_dot[1:3, j]``: part of an array's tangent along its own axes."""
        return isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and \
            self.is_array(node.value.id) and not self.is_element(node)

    def number_target(self, target):
        return (isinstance(target, ast.Name) and self.is_number(target.id)) or self.is_element(target)

    def array_target(self, target):
        return (isinstance(target, ast.Name) and self.is_array(target.id)) or self.is_view(target)

    def element(self, node):
        """The entry ``_p`` of a number's tangent or of an element of an array's tangent."""
        if isinstance(node, ast.Name):
            return ast.Subscript(value=name(node.id), slice=name(DIRECTION), ctx=node.ctx)
        parts = [copy.deepcopy(p) for p in self.index_parts(node)]
        return ast.Subscript(value=copy.deepcopy(node.value), ctx=node.ctx,
                             slice=ast.Tuple(elts=parts + [name(DIRECTION)], ctx=ast.Load()))

    def elementwise(self, expr):
        """``expr`` with every tangent read at direction ``_p``: it must read numbers' tangents
        and elements of arrays' tangents only."""
        if isinstance(expr, ast.Name) and expr.id in self.tangents:
            if not self.is_number(expr.id):
                self.refuse(expr)
            return ast.Subscript(value=name(expr.id), slice=name(DIRECTION), ctx=ast.Load())
        if isinstance(expr, ast.Subscript) and isinstance(expr.value, ast.Name) and expr.value.id in self.tangents:
            if not self.is_element(expr):
                self.refuse(expr)
            return self.element(expr)
        new = copy.copy(expr)
        for field, value in ast.iter_fields(expr):
            if isinstance(value, ast.AST):
                setattr(new, field, self.elementwise(value))
            elif isinstance(value, list):
                setattr(new, field, [self.elementwise(v) if isinstance(v, ast.AST) else v for v in value])
        return new

    def whole(self, value, view_target):
        """The value of an array's tangent bound or written whole."""
        if isinstance(value, ast.Name) and self.is_array(value.id) or self.is_view(value):
            return value
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and \
                value.func.attr == "copy" and not value.args and self.whole(value.func.value, False):
            return value
        if isinstance(value, ast.Constant) and view_target:           # a_dot[i] = 0.0
            return value
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and \
                isinstance(value.func.value, ast.Name) and value.func.value.id == "np" and \
                value.func.attr in ("zeros_like", "empty_like") and len(value.args) == 1 and \
                not value.keywords and isinstance(value.args[0], ast.Name):
            like = self.types.env.get(value.args[0].id)
            if isinstance(like, K.Array):
                allocate = value.func.attr[:-len("_like")]
                return ast.parse(f"np.{allocate}({value.args[0].id}.shape + ({DIRECTIONS},), np.{like.dtype})",
                                 mode="eval").body
        self.refuse(value)


def _is_direction_loop(stmt):
    return isinstance(stmt, ast.For) and isinstance(stmt.target, ast.Name) and stmt.target.id == DIRECTION


def _fuse(stmts, tangents):
    """Runs of per-direction loops made one: a loop moves up or down past statements that
    read no tangent and write nothing it reads.  Directions are independent of each other,
    so only the order of statements within one direction matters, and that order is kept."""
    out, last, written = [], None, set()      # the last direction loop, names written since it
    for stmt in stmts:
        if not _is_direction_loop(stmt):
            out.append(stmt)
            if last is not None:
                changed = _written(stmt)
                if changed is None or _read(stmt) & set(tangents):
                    last = None
                else:
                    written |= changed
            continue
        if last is not None and not (_needs(stmt) & written):
            last.body.extend(stmt.body)               # up, to the last loop
        elif last is not None and not (_needs(last) & written):
            out.remove(last)                          # the last loop down, to this one
            last.body.extend(stmt.body)
            out.append(last)
            written = set()
        else:
            out.append(stmt)
            last, written = stmt, set()
    return out


def _read(stmt):
    return {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _needs(loop):
    """The names a direction loop reads from before it: those it does not set itself first
    (a loop variable, a primal value it computes again)."""
    return _read(loop) - {n.id for n in ast.walk(loop) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def _few_iterations(loop, most=16):
    """Whether ``loop`` runs over ``range`` of numbers, at most ``most`` of them."""
    it = loop.iter
    if not (isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "range" and
            1 <= len(it.args) <= 2 and all(isinstance(a, ast.Constant) and type(a.value) is int for a in it.args)):
        return False
    bounds = [a.value for a in it.args]
    return len(range(*bounds)) <= most


def _written(stmt):
    """The names a primal statement may change (arrays written into included); None where it
    calls something that may change anything."""
    for node in ast.walk(stmt):
        if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Attribute) and
                                               isinstance(node.func.value, ast.Name) and
                                               node.func.value.id in ("math", "np")):
            if not (isinstance(node.func, ast.Name) and node.func.id in ("range", "abs", "min", "max")):
                return None
    changed = set()
    for node in ast.walk(stmt):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            changed.add(node.id)
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store):
            changed |= {n.id for n in ast.walk(node.value) if isinstance(n, ast.Name)}
        elif isinstance(node, ast.AugAssign):
            changed |= {n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)}
    return changed
