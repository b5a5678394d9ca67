"""The forward sweep of reverse mode: the primal statements, with pushes of what the
backward sweep reads (see ``analysis/tape.py``) and tape space reserved before loops."""
import ast
import copy

from ..analysis.dataflow import assigned_names, is_write, op_kind, targets, walk
from ..codegen import names_in, number, simplify
from ..custom import custom_vjp
from ..dead_code import pure
from ..frontend import custom_rules
from ..frontend.nodes import substituted
from ..frontend.normalize import assign, instantiate, name
from .common import array_mapping, aug, call_args_kinds, custom_parts, emit_primal, np_call, rt_attr


class ForwardSweep:
    """The forward sweep of ``Reverse`` (a mixin: it uses the tapes and activity there)."""

    def forward_block(self, stmts, loop_assigned):
        """(statements, pushes per execution by tape) for the forward sweep of ``stmts``.

        ``loop_assigned`` is what the enclosing loop body assigns; a for loop
        nested in it whose range does not depend on those names has its tape
        space reserved by the enclosing loop.
        """
        out, counts = [], {}
        after_dynamic = []         # (position in out, counts so far) after loops that grew the tapes
        invariant = _invariant_bindings(stmts, loop_assigned)
        for place, stmt in enumerate(stmts):
            dynamic = self.dynamic
            if isinstance(stmt, ast.Assign):
                for t in targets(stmt):
                    if self.plan.pushed(stmt, t):
                        out += self.push(t)
                        if not self.is_array(t):
                            _add(counts, self.tape(t)[0][1], 1)
                if is_write(stmt) and self.plan.pushed(stmt, stmt.targets[0].value.id):
                    out += self.push_write(stmt)
                    if self.is_element(stmt.targets[0]):
                        _add(counts, self.tape_for(self.types.env[stmt.targets[0].value.id].element)[0][1], 1)
                if self.splits(stmt):
                    out += self.forward_split_call(stmt)
                else:
                    out += self.save_written_arguments(stmt)
                    out.append(self.forward_assign(stmt))
                out += self.shadows(stmt)
            elif isinstance(stmt, ast.If):
                body, c1 = self.forward_block(stmt.body, loop_assigned)
                orelse, c2 = self.forward_block(stmt.orelse, loop_assigned) if stmt.orelse else ([], {})
                new = copy.copy(stmt)
                new.body, new.orelse = body or [ast.Pass()], orelse
                out.append(new)
                for c in (c1, c2):
                    for k, v in c.items():
                        _add(counts, k, v)
            elif isinstance(stmt, ast.For):
                known = {t: value for t, (at, value) in invariant.items() if at < place}     # bound before it
                out += self.forward_for(stmt, loop_assigned, counts, known)
            elif isinstance(stmt, ast.While):
                out += self.forward_while(stmt, counts)
            else:
                out.append(copy.deepcopy(stmt))
            if self.dynamic > dynamic:
                after_dynamic.append((len(out), dict(counts)))
        # a loop that grows a tape reserves room for itself only: room for the pushes that
        # follow it in this block is reserved again after it
        for position, before in reversed(after_dynamic):
            rest = {k: _minus(v, before.get(k, 0)) for k, v in counts.items()}
            out[position:position] = self.reserve({k: v for k, v in rest.items() if v != 0},
                                                  loop_assigned is not None)
        return out, counts

    def reserve(self, counts, in_loop=True):
        """Statements making room on the tapes for ``counts`` more pushes (none in a split
        half, whose caller makes the room)."""
        out = []
        if self.split:
            return out
        for key, n in sorted(counts.items()):
            array, pos = self.tapes[key]
            needed = simplify(ast.BinOp(name(pos), ast.Add(), _expr(n)))
            grow = assign(array, ast.Call(func=rt_attr("reserve"), args=[name(array), needed], keywords=[]))
            size = _length(array)
            if not in_loop:
                out.append(grow)
                continue
            # the test inline: a call per loop iteration costs more than the pushes it guards
            out.append(ast.If(test=ast.Compare(left=copy.deepcopy(needed), ops=[ast.Gt()], comparators=[size]),
                              body=[grow], orelse=[]))
        return out

    def shadows(self, stmt):
        """Adjoints of the arrays an assignment binds: views of their bases' adjoints, or zeros."""
        out = []
        for t in targets(stmt):
            if t in self.active and self.is_array(t) and t not in self.lazy | self.taken_over:
                out.append(assign(self.bar(t), self.shadow_value(stmt.value, t), stmt))
        return out

    def shadow_value(self, expr, var):
        kind = op_kind(expr)
        if kind == "copy" and self.is_active(expr):
            return name(self.bar(expr.id))
        if kind == "read" and self.is_active(expr.value):
            return ast.Subscript(value=name(self.bar(expr.value.id)), slice=copy.deepcopy(expr.slice),
                                 ctx=ast.Load())
        if kind == "array" and expr.sd_array.alias and self.is_active(expr.sd_args[0]):
            mapping = dict(array_mapping(expr), x=name(self.bar(expr.sd_args[0].id)))
            return instantiate(expr.sd_array.template, mapping)
        return np_call("zeros_like", name(var))

    def forward_assign(self, stmt):
        """The forward sweep's copy of an assignment: the primal, or a custom rule's forward part."""
        expr = stmt.value
        if op_kind(expr) != "custom" or not set(targets(stmt)) & self.active:
            return emit_primal(stmt, self.types, self.program)
        custom = expr.sd_custom.custom
        custom.check_defined()
        if isinstance(custom, custom_vjp):      # out, *residuals = fwd(*args)
            fwd = self.program.request(expr.sd_fwd, call_args_kinds(expr, self.types), "primal", None)
            target = ast.Tuple(elts=[name(t, ast.Store()) for t in targets(stmt)], ctx=ast.Store())
            return assign(target, ast.Call(func=name(fwd), args=copy.deepcopy(expr.args), keywords=[]), stmt)
        rule = custom_rules.jvp_rule(expr.sd_custom)         # primal output from the JVP rule
        nondiff, diff = custom_parts(expr)
        args = [copy.deepcopy(a) for a in nondiff + diff] + [ast.Constant(0.0) for _ in diff]
        callee = self.program.request(rule, tuple(self.types.of(a) for a in args), "primal", None)
        outs = targets(stmt)
        elts = [name(o, ast.Store()) for o in outs] + [name("_", ast.Store()) for _ in outs]
        return assign(ast.Tuple(elts=elts, ctx=ast.Store()), ast.Call(func=name(callee), args=args, keywords=[]),
                      stmt)

    def forward_split_call(self, stmt):
        """``out, *positions = fwd(*args, *tapes)``.  A split half never grows the tapes; where
        they ran out, the caller (in joint mode) grows them and runs the call again, having
        written back the arrays it changes, and remembers the room for the next time."""
        expr = stmt.value
        fwd = self.program.request(expr.sd_func, call_args_kinds(expr, self.types), "fwd", self.call_mask(expr))
        tapes = self.shared_tapes()
        positions = tapes[1::2]
        elts = [name(t, ast.Store()) for t in targets(stmt) + positions]
        call = assign(ast.Tuple(elts=elts, ctx=ast.Store()),
                      ast.Call(func=name(fwd), args=copy.deepcopy(expr.args) + [name(t) for t in tapes], keywords=[]),
                      stmt)
        if self.split:
            return [call]
        self.dynamic += 1
        self.split_sites += 1
        starts = [self.naming.fresh("_s") for _ in positions]
        sites = [ast.Constant(f"{self.core.name}_{self.split_sites}{tape}") for tape in tapes[::2]]
        kept = [(tape, kind, f"{self.core.name}{tape}") for tape, kind in zip(tapes[::2], ("float", "int"))]
        self.kept_tapes |= set(kept)

        def room(k, start, needed):        # tape k with room for ``needed`` entries, ``start`` of them kept
            tape, kind, key = kept[k]
            return assign(tape, ast.Call(func=rt_attr(f"room_{kind}"), args=[name(tape), start, needed,
                                                                              ast.Constant(key)], keywords=[]))
        views = {}          # view tape position before the saves -> the arrays saved from there
        for a in self.written_arguments(stmt):
            views.setdefault(self.view_tape(self.types.env[a].dtype)[1], []).append(a)
        saved = [assign(self.naming.fresh("_q"), name(pos)) for pos in views]
        out = saved + self.save_written_arguments(stmt) + [assign(s, name(p)) for s, p in zip(starts, positions)]
        out += [room(k, name(pos), ast.BinOp(name(pos), ast.Add(), ast.Call(func=rt_attr("recall"), args=[site],
                                                                             keywords=[])))
                for k, (pos, site) in enumerate(zip(positions, sites))]
        out.append(call)
        again = [ast.Expr(value=ast.Call(func=rt_attr("remember"), args=[copy.deepcopy(site), ast.BinOp(
            name(pos), ast.Sub(), name(start))], keywords=[])) for site, pos, start in zip(sites, positions, starts)]
        for (pos, arrays), q in zip(views.items(), saved):
            at = q.targets[0].id
            again += [self.pop_elements(name(a), self.types.env[a].dtype, restore=at) for a in arrays]
        again += [room(k, name(start), name(pos)) for k, (pos, start) in enumerate(zip(positions, starts))]
        again += [assign(p, name(s)) for p, s in zip(positions, starts)] + [copy.deepcopy(call)]
        short = [ast.Compare(left=name(pos), ops=[ast.Gt()], comparators=[_length(tape)])
                 for pos, tape in zip(positions, tapes[::2])]
        out.append(ast.If(test=ast.BoolOp(op=ast.Or(), values=short), body=again, orelse=[]))
        return out

    def _loop_pushes(self, stmt, counts):
        out = []
        for var in (stmt.target.id if isinstance(stmt, ast.For) else None, stmt.sd_counter):
            if var and (self.plan.pushed(stmt, var) or var in self.plan.saved_loop_vars):
                out += self.push(var)
                _add(counts, self.tape(var)[0][1], 1)
        if stmt.sd_counter:
            out.append(assign(stmt.sd_counter, ast.Constant(0)))
        return out

    def _count_iteration(self, stmt, body):
        if stmt.sd_counter:
            return [aug(stmt.sd_counter, ast.Add(), ast.Constant(1))] + body
        return body

    def forward_for(self, stmt, loop_assigned, counts, invariant):
        """The forward sweep of a for loop; ``invariant`` maps names its block binds once
        before it, to values the enclosing loop does not change, to those values."""
        out = self._loop_pushes(stmt, counts)
        inner_assigned = assigned_names(stmt.body) | {stmt.target.id}
        dynamic = self.dynamic
        body, per_iter = self.forward_block(stmt.body, inner_assigned)
        if self.dynamic > dynamic:         # inner loops grow the tapes: room for this iteration's own
            body = self.reserve(per_iter) + body
        new = copy.copy(stmt)
        new.body = self._count_iteration(stmt, body)
        trips = trip_count([substituted(a, invariant) for a in stmt.iter.args])
        for key, n in per_iter.items():
            total = simplify(ast.BinOp(_expr(n), ast.Mult(), trips))
            # room made before the enclosing loop, where nothing the count reads changes in it
            hoist = loop_assigned is not None and not names_in(total) & loop_assigned
            if hoist:
                nonneg = ast.Call(func=name("max"), args=[total, ast.Constant(0)], keywords=[])
                _add(counts, key, nonneg)
            else:
                out += self.reserve({key: total}, loop_assigned is not None)
                self.dynamic += 1
        return out + [new]

    def forward_while(self, stmt, counts):
        out = self._loop_pushes(stmt, counts)
        body, per_iter = self.forward_block(stmt.body, assigned_names(stmt.body))
        checks = self.reserve(per_iter)
        self.dynamic += bool(per_iter)
        new = copy.copy(stmt)
        new.body = self._count_iteration(stmt, checks + body)
        return out + [new]


def reserve_ahead(stmts):
    """``stmts`` (a function's top level) with each tape's first reserve also making room
    for the later ones whose sizes can be computed there: one allocation, where growing
    the tape loop by loop copies it each time.  The later reserves stay, as checks."""
    out = list(stmts)
    first = {}
    for i, stmt in enumerate(out):
        parts = _reserve_parts(stmt)
        if parts is None:
            continue
        tape, _, amount = parts
        if tape not in first:
            first[tape] = i
            continue
        ahead = _computable_before(amount, out[first[tape] + 1:i])
        if ahead is not None:
            _, pos, earlier = _reserve_parts(out[first[tape]])
            needed = ast.BinOp(name(pos), ast.Add(), simplify(ast.BinOp(earlier, ast.Add(), ahead)))
            out[first[tape]] = assign(tape, ast.Call(func=rt_attr("reserve"), args=[name(tape), needed],
                                                     keywords=[]))
    return out


def tapes_where_used(stmts, tapes):
    """``stmts`` (a function's body) with each tape allocated in the branch that uses it, where
    every use is in the same branch of top-level ``if`` statements on one test bound once
    before them (the forward and backward sweeps of a recursion's general case): the calls
    that take the other branch allocate nothing."""
    out = list(stmts)
    for array, pos in tapes:
        inits = [s for s in out if isinstance(s, ast.Assign) and targets(s) in ([array], [pos])]
        uses = [s for s in out if not any(s is i for i in inits) and _mentions(s, (array, pos))]
        if len(inits) != 2 or not uses or not all(isinstance(s, ast.If) and isinstance(s.test, ast.Name)
                                                  for s in uses):
            continue
        test = uses[0].test.id
        sides = {("body" if _mentions(s.body, (array, pos)) else "") +
                 ("orelse" if _mentions(s.orelse, (array, pos)) else "") for s in uses}
        binders = [k for k, s in enumerate(out) if test in assigned_names([s])]
        if any(s.test.id != test for s in uses) or sides not in ({"body"}, {"orelse"}) or \
                len(binders) != 1 or binders[0] > next(k for k, s in enumerate(out) if s is uses[0]):
            continue
        side = sides.pop()
        setattr(uses[0], side, inits + getattr(uses[0], side))
        out = [s for s in out if not any(s is i for i in inits)]
    return out


def _mentions(stmts, names_):
    stmts = stmts if isinstance(stmts, list) else [stmts]
    return any(isinstance(n, ast.Name) and n.id in names_ for s in stmts for n in ast.walk(s))


def _reserve_parts(stmt):
    """(tape, position, amount) of a top-level ``tape = _rt.reserve(tape, position + amount)``."""
    if not (isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call) and
            ast.unparse(stmt.value.func) == "_rt.reserve"):
        return None
    needed = stmt.value.args[1]
    if not (isinstance(needed, ast.BinOp) and isinstance(needed.op, ast.Add) and isinstance(needed.left, ast.Name)):
        return None
    return stmt.targets[0].id, needed.left.id, needed.right


def _computable_before(expr, between):
    """``expr``, a length read after the statements ``between``, written so that it can be
    computed before them: names they bind replaced by their one binding there, a top-level
    assignment of a length of names they do not bind.  None where that cannot be done."""
    bindings = {}                 # name -> the statements in ``between`` that bind it
    for stmt in walk(between):
        bound_here = {getattr(stmt, "sd_counter", None)}
        if isinstance(stmt, ast.Assign):
            bound_here |= assigned_names([stmt])
        elif isinstance(stmt, (ast.For, ast.AugAssign)) and isinstance(stmt.target, ast.Name):
            bound_here.add(stmt.target.id)
        for n in bound_here - {None}:
            bindings.setdefault(n, []).append(stmt)
    definitions = {n: stmts[0].value for n, stmts in bindings.items() if len(stmts) == 1 and
                   any(stmts[0] is s for s in between) and isinstance(stmts[0], ast.Assign) and
                   isinstance(stmts[0].targets[0], ast.Name)}

    def computable(expr, substitute):
        if not _is_length(expr):
            return None
        holder = ast.Expression(body=copy.deepcopy(expr))
        for parent in list(ast.walk(holder)):
            for field, child in ast.iter_fields(parent):
                items = child if isinstance(child, list) else [child]
                for k, item in enumerate(items):
                    if not (isinstance(item, ast.Name) and item.id in bindings):
                        continue
                    if not substitute or item.id not in definitions:
                        return None
                    replacement = computable(definitions[item.id], False)
                    if replacement is None:
                        return None
                    if isinstance(child, list):
                        child[k] = replacement
                    else:
                        setattr(parent, field, replacement)
        return holder.body

    return computable(expr, True)


def _is_length(expr):
    """Whether ``expr`` is integer arithmetic on names, constants and ``a.shape[d]``."""
    for node in ast.walk(expr):
        if isinstance(node, ast.Call):
            if not (isinstance(node.func, ast.Name) and node.func.id in ("max", "min")):
                return False
        elif isinstance(node, ast.Attribute):
            if node.attr != "shape":
                return False
        elif isinstance(node, ast.Subscript):
            if not (isinstance(node.value, ast.Attribute) and isinstance(node.slice, ast.Constant)):
                return False
        elif not isinstance(node, (ast.Name, ast.Constant, ast.BinOp, ast.UnaryOp, ast.operator,
                                   ast.unaryop, ast.expr_context)):
            return False
    return True


def _add(counts, key, n):
    old = counts.get(key, 0)
    if isinstance(old, int) and isinstance(n, int):
        counts[key] = old + n
    else:
        counts[key] = simplify(ast.BinOp(_expr(old), ast.Add(), _expr(n)))


def _minus(a, b):
    if isinstance(a, int) and isinstance(b, int):
        return a - b
    if ast.dump(_expr(a)) == ast.dump(_expr(b)):
        return 0
    if isinstance(a, ast.BinOp) and isinstance(a.op, ast.Add) and ast.dump(a.left) == ast.dump(_expr(b)):
        return number(a.right) if number(a.right) is not None else a.right
    return simplify(ast.BinOp(_expr(a), ast.Sub(), _expr(b)))


def _invariant_bindings(stmts, loop_assigned):
    """Name -> (position, value), for the names ``stmts`` (in a loop body assigning
    ``loop_assigned``) bind once, at their top level, to a value that reads nothing the loop
    assigns: after that position, the name holds that value in every iteration."""
    if loop_assigned is None:
        return {}
    bound = [t for s in walk(stmts) if isinstance(s, ast.Assign) for t in targets(s)]
    return {s.targets[0].id: (k, s.value) for k, s in enumerate(stmts)
            if isinstance(s, ast.Assign) and isinstance(s.targets[0], ast.Name) and
            bound.count(s.targets[0].id) == 1 and pure(s.value) and not names_in(s.value) & loop_assigned}


def _length(array):
    """``array.shape[0]``."""
    return ast.Subscript(value=ast.Attribute(value=name(array), attr="shape", ctx=ast.Load()),
                         slice=ast.Constant(0), ctx=ast.Load())


def _expr(n):
    return ast.Constant(n) if isinstance(n, int) else n


def range_parts(args):
    if len(args) == 1:
        return ast.Constant(0), args[0], ast.Constant(1)
    if len(args) == 2:
        return args[0], args[1], ast.Constant(1)
    return tuple(args)


def range_step(args):
    return number(range_parts(args)[2])


def trip_count(args):
    """How many times ``for _ in range(*args)`` runs (negative meaning zero)."""
    start, stop, step = (copy.deepcopy(a) for a in range_parts(args))
    c = range_step(args)
    if c == 1:
        return simplify(ast.BinOp(stop, ast.Sub(), start))
    if c is not None and c > 0:
        return ast.BinOp(ast.BinOp(ast.BinOp(stop, ast.Sub(), start), ast.Add(), ast.Constant(c - 1)),
                         ast.FloorDiv(), ast.Constant(c))
    if c is not None and c < 0:
        return ast.BinOp(ast.BinOp(ast.BinOp(start, ast.Sub(), stop), ast.Add(), ast.Constant(-c - 1)),
                         ast.FloorDiv(), ast.Constant(-c))
    return ast.Call(func=ast.Attribute(value=name("_rt"), attr="trip_count", ctx=ast.Load()),
                    args=[start, stop, step], keywords=[])
