"""Reverse mode: a forward sweep that keeps what is needed, then a backward sweep.

``def f(x, n)`` becomes ``def f_vjp(x, n, s_out_bar)`` returning the outputs
and then the adjoints of the differentiated parameters.  The backward sweep
visits the statements in reverse; at each one the variables hold the values
they had just after it ran forward (see ``analysis/tape.py``).  Loops run
backwards over the same indices; a ``while`` loop, or a ``for`` loop left by
``break``, counts its iterations.
"""
import ast
import copy
from types import SimpleNamespace as _Sweeps

from .. import kinds as K
from ..analysis.dataflow import (assigned_names, bound_on_every_path, index_atoms, index_length, is_element_index,
                                 names, op_kind, operands, stored_names, targets, upward_exposed, walk)
from ..analysis.tape import partial_reads, reads_outside, simple_while, strided_names
from ..codegen import const, number, simplify
from ..errors import ReverseThroughArrays, error_at
from ..frontend.normalize import assign, instantiate, is_breakif, name
from .reverse_arrays import ReverseArrays, increments
from .reverse_calls import ReverseCalls
from .reverse_forward import ForwardSweep, range_parts, range_step, reserve_ahead, tapes_where_used, trip_count
from .common import add_to, aug, emit_primal, method_of, np_call, partial_template, rt_attr


class Reverse(ForwardSweep, ReverseArrays, ReverseCalls):
    def __init__(self, core, types, plan, mask, program, naming, multiple, accumulated=(), consuming=False,
                 split=False):
        self.core, self.types, self.plan = core, types, plan
        self.split = split       # the halves of split mode: the tapes are the caller's
        self.accumulated = list(accumulated)   # array parameters whose adjoints the caller passes
        self.active = plan.active
        self.mask, self.program, self.naming = mask, program, naming
        self.multiple = multiple
        self.fresh = set()
        self.zeroed = set()      # variables whose adjoint was just reset to zero
        self.tapes = {}          # "f"/"i"/"v" (views) -> (array name, position name)
        if split:                # the halves pass on one float and one integer tape
            self.shared_tapes()
        self.refs = {}           # array variable -> [(list name, variable, or SHAPE)]
        self.dynamic = 0         # how many tape reservations inside loops were emitted
        self.split_sites = 0     # split calls made from joint mode (each remembers its tape room)
        self.kept_tapes = set()  # (tape, kind, key) of the tapes those calls may make long
        self.deps = {r: self._deps(r) for r in plan.recompute}
        self.lazy = self._lazy_adjoints()
        self.block_locals = {}
        self.top = core.body[:-1]
        self.taken_over = self._taken_over_adjoints() if consuming else set()
        self.increments, self.increment_parts = increments(core.body, types, self.is_element)
        self._find_block_locals(self.top)

    # ------------------------------------------------------------ naming
    def bar(self, var):
        return self.naming.derived(var, "bar")

    def is_active(self, atom):
        return isinstance(atom, ast.Name) and atom.id in self.active

    def array_error(self, stmt):
        e = error_at(stmt, self.core.source, "reverse mode cannot undo this statement: it changes an "
                     "array that carries derivatives in a way the backward sweep cannot replay (a call "
                     "that writes into its array arguments, an array rebound from itself without a tape, "
                     "or a forward-only operation); sd.grad, vjp, jacrev and hessian fall back to "
                     "forward sweeps here, and sd.jvp/sd.jacfwd handle it directly")
        return ReverseThroughArrays(e.reason, e.filename, e.lineno, e.code)

    # ------------------------------------------------------------ analysis helpers
    def _deps(self, r, seen=None):
        seen = set() if seen is None else seen
        for m in names(operands(self.plan.recompute[r].value)):
            if m not in seen:
                seen.add(m)
                if m in self.plan.recompute:
                    self._deps(m, seen)
        return seen

    def _find_block_locals(self, stmts):
        out = set()
        for k, stmt in enumerate(stmts):
            if isinstance(stmt, ast.Assign):
                for t in targets(stmt):
                    if t in self.active and t not in self.core.params and not self.is_array(t) and not \
                            reads_outside(self.core.body, stmts[k + 1:], t, stmt) and \
                            sum(1 for s in assigned_defs(self.core.body, t)) == 1:
                        out.add(t)
            for field in ("body", "orelse"):
                if isinstance(stmt, (ast.If, ast.For, ast.While)):
                    self._find_block_locals(getattr(stmt, field))
        self.block_locals[id(stmts)] = out

    # ------------------------------------------------------------ tapes
    def tape(self, var):
        return self.tape_for(self.types.env[var])

    def tape_for(self, kind):
        key = "f" if kind == "float" else "i"
        if key not in self.tapes:
            self.tapes[key] = (self.naming.unique(f"_{key}tape"), self.naming.unique(f"_{key}p"))
        return self.tapes[key]

    def push(self, var):
        if self.is_array(var):
            return [assign(lst, ast.Call(func=rt_attr("push_ref"), args=[name(lst), self._kept(var, v)],
                                         keywords=[]))
                    for lst, v in self.ref_lists(var)]
        return self.push_value(name(var), self.types.env[var])

    def _kept(self, var, v):
        """What a list entry keeps of ``var``: an array, or the shape of its adjoint's array."""
        return _shape_of(var) if v == SHAPE else name(v)

    def push_value(self, value, kind):
        array, pos = self.tape_for(kind)
        if self.split:
            write = ast.Expr(value=ast.Call(func=rt_attr("put"), args=[name(array), name(pos), value], keywords=[]))
        else:
            write = assign(ast.Subscript(value=name(array), slice=name(pos), ctx=ast.Store()), value)
        return [write, aug(pos, ast.Add(), ast.Constant(1))]

    def pop(self, var):
        self.invalidate(var)
        if self.is_array(var):
            out = []
            for lst, v in reversed(self.ref_lists(var)):
                popped = ast.Call(func=rt_attr("pop_ref"), args=[name(lst)], keywords=[])
                out.append(assign(v, popped) if v != SHAPE else
                           assign(self.bar(var), np_call("zeros", popped, self._dtype(var))))
            return out
        return [aug(self.tape(var)[1], ast.Sub(), ast.Constant(1)),
                assign(var, self.pop_value(self.types.env[var]))]

    def pop_value(self, kind):
        array, pos = self.tape_for(kind)
        read = ast.Subscript(value=name(array), slice=name(pos), ctx=ast.Load())
        if kind == "bool":
            read = ast.Compare(left=read, ops=[ast.NotEq()], comparators=[ast.Constant(0)])
        return read

    def ref_lists(self, var):
        """(list, variable) pairs keeping the arrays ``var`` (and its adjoint) were bound to; an
        adjoint allocated in the backward sweep (``var`` in ``self.lazy``) keeps only shapes."""
        if var not in self.refs:
            held = ([var] if self.plan.keeps_value(var) else []) + \
                ([SHAPE if var in self.lazy else self.bar(var)] if var in self.active else [])
            self.refs[var] = [(self.naming.unique(f"_{var}_shapes" if v == SHAPE else f"_{v}_refs"), v)
                              for v in held]
            self.program.used_final_forms |= var in self.lazy
        return self.refs[var]

    def _lazy_adjoints(self):
        """Rebound arrays whose adjoints the backward sweep allocates where it needs them,
        instead of the forward sweep keeping one per binding: in code that runs as it is, an
        array bound only to new arrays, with no view or other name sharing its elements.  Its
        adjoint is still zero when the backward sweep gets back to the binding before: what
        adds into it comes after that binding, so it runs later in the backward sweep."""
        if not self.program.final:
            return set()
        rebound = {t for stmt in walk(self.core.body) if isinstance(stmt, ast.Assign)
                   for t in targets(stmt) if self.plan.pushed(stmt, t)}
        # a binding that is a view or another name (``v = w``, ``v = a[1:]``) shares v's group
        return {v for v in rebound & self.active
                if self.is_array(v) and v not in self.core.params and self.types.env[v].ndim >= 1
                and self.plan.groups.get(v, {v}) == {v}}

    def _taken_over_adjoints(self):
        """Array results whose adjoints are the arrays the caller passes (mode "consuming"),
        not zeros plus them: bound once, outside loops and branches, to a new array no other
        name shares (so nothing adds into its adjoint before the backward sweep starts)."""
        def bound_once_at_top(v):
            bindings = assigned_defs(self.core.body, v)
            return len(bindings) == 1 and any(bindings[0] is stmt for stmt in self.top)
        return {o.id for o in self.core.outputs if isinstance(o, ast.Name) and o.id in self.active and
                self.is_array(o.id) and o.id not in self.core.params and bound_once_at_top(o.id) and
                self.plan.groups.get(o.id, {o.id}) == {o.id}}

    def _dtype(self, var):
        return ast.Attribute(value=name("np"), attr=_np_dtype(self.types.env[var].dtype), ctx=ast.Load())

    def push_write(self, stmt):
        """Save the elements an array write overwrites."""
        target = stmt.targets[0]
        if self.is_element(target):
            return self.push_value(copy.deepcopy(_load(target)), self.types.env[target.value.id].element)
        return self.push_elements(_load(target), self.types.env[target.value.id].dtype)

    def push_elements(self, view, dtype):
        """Save all the elements of ``view`` on the view tape of ``dtype``."""
        array, pos = self.view_tape(dtype)
        call = ast.Call(func=rt_attr("push_view"), args=[name(array), name(pos), view], keywords=[])
        return [assign(ast.Tuple(elts=[name(array, ast.Store()), name(pos, ast.Store())], ctx=ast.Store()), call)]

    def pop_write(self, stmt):
        target = stmt.targets[0]
        if self.is_element(target):
            kind = self.types.env[target.value.id].element
            return [aug(self.tape_for(kind)[1], ast.Sub(), ast.Constant(1)),
                    assign(copy.deepcopy(target), self.pop_value(kind))]
        return [self.pop_elements(_load(target), self.types.env[target.value.id].dtype)]

    def pop_elements(self, view, dtype, restore=None):
        """Write the elements saved last back into ``view``; with ``restore`` (a position
        name), those saved from that position on, leaving them on the tape."""
        array, pos = self.view_tape(dtype)
        call = ast.Call(func=rt_attr("restore_view" if restore else "pop_view"),
                        args=[name(array), name(restore or pos), view], keywords=[])
        return assign(restore or pos, call)

    def shared_tapes(self):
        """The tapes a split call pushes onto and pops from: [float tape, its position, integer
        tape, its position]."""
        return [n for kind in ("float", "int") for n in self.tape_for(kind)]

    def view_tape(self, dtype):
        assert not self.split, "split halves save no views (program.splittable admits element writes only)"
        key = "v" if dtype == "float64" else f"v_{dtype}"
        if key not in self.tapes:
            suffix = "" if key == "v" else f"_{dtype}"
            self.tapes[key] = (self.naming.unique(f"_vtape{suffix}"), self.naming.unique(f"_vp{suffix}"))
        return self.tapes[key]

    def is_array(self, var):
        return isinstance(self.types.env.get(var), K.Array)

    def is_element(self, subscript):
        """Whether ``a[index]`` is one element (not a view)."""
        return not isinstance(self.types.of(subscript.value), K.Array) or \
            self.types.env[subscript.value.id].ndim == index_length(subscript.slice) and \
            is_element_index(subscript.slice)

    # ------------------------------------------------------------ recomputation
    def invalidate(self, var):
        self.fresh = {r for r in self.fresh if var not in self.deps[r] and r != var}

    def materialize(self, reads):
        out = []
        for n in sorted(reads):
            if n in self.plan.recompute and n not in self.fresh:
                out += self.materialize(self.deps[n] & set(self.plan.recompute))
                out.append(emit_primal(self._shape_from_adjoint(self.plan.recompute[n]), self.types,
                                       self.program))
                self.fresh.add(n)
        return out

    def _shape_from_adjoint(self, stmt):
        """``n = a.shape[0]`` reads ``a_bar`` instead where a's old arrays are not kept."""
        expr = stmt.value
        if op_kind(expr) not in ("shape", "len", "attr"):
            return stmt
        array = operands(expr)[0]
        if not (isinstance(array, ast.Name) and array.id in self.refs and not self.plan.keeps_value(array.id)):
            return stmt
        stmt = copy.deepcopy(stmt)
        holder = stmt.value.value if op_kind(expr) == "shape" else stmt.value
        if op_kind(expr) == "len":
            holder.args[0] = name(self.bar(array.id))
        else:
            holder.value = name(self.bar(array.id))
        return stmt

    # ------------------------------------------------------------ the function
    def function(self, fn_name, values=True):
        """The VJP: the primal results (where ``values``) and then the cotangents of the arguments."""
        sweeps = self._sweeps(values)
        keep = [ast.Expr(value=ast.Call(func=rt_attr(f"keep_{kind}"), args=[name(tape), ast.Constant(key)],
                                        keywords=[])) for tape, kind, key in sorted(self.kept_tapes)]
        stmts = sweeps.prologue + sweeps.forward + sweeps.captured + sweeps.backward + keep + [
            ast.Return(value=ast.Tuple(elts=sweeps.results + sweeps.param_bars, ctx=ast.Load()))]
        if self.program.final:      # code another transform reads defines each name on every path
            stmts = tapes_where_used(stmts, self.tapes.values())
        fn = self._function_def(fn_name, sweeps.params, stmts, sweeps)
        fn.sd_values = len(sweeps.results)      # how many returned values come before the cotangents
        return fn

    def split_functions(self, fwd_name, bwd_name):
        """The VJP in split mode, for a recursion: ``fwd(*args, *tapes)`` runs the forward sweep,
        leaving on the caller's tapes what the backward sweep needs (the numbers it reads that
        the forward sweep set last), and returns the results and the tape positions; ``bwd(*args,
        *out_bars, *tapes)`` runs the backward sweep and returns the cotangents and the tape
        positions.  A caller runs the one in its forward sweep and the other in its backward
        sweep, so each call's subtree runs forward once, where a VJP called in its backward
        sweep would run it again at every level above."""
        sweeps = self._sweeps(True)
        tapes = self.shared_tapes()
        forward, backward = sweeps.prologue + sweeps.forward, list(sweeps.backward)
        fixed = set(self.core.params) - assigned_names(self.core.body)
        groups = []
        for f, b, kept in self._handed_over(forward, backward):
            before_push = forward if f is forward else forward[:-1] + f
            groups.append((f, b, kept, set(self.core.params) | bound_on_every_path(before_push)))
        defaults = []
        for forward_block, backward_block, kept, bound in groups:
            defaults += [assign(v, const(K.zero(self.types.env[v]))) for v in kept if v not in bound]
            # what the parameters give again (a base case's test) the backward half computes
            again = {v: stmt for v, stmt in self.plan.recompute.items()
                     if v in kept and set(names(operands(stmt.value))) <= fixed}
            forward_block += [s for v in kept if v not in again for s in self.push_value(name(v), self.types.env[v])]
            backward_block[:0] = [s for v in reversed(kept) if v not in again for s in self.pop(v)] + \
                [emit_primal(again[v], self.types, self.program) for v in kept if v in again]
        fwd_body = sweeps.prologue + defaults + forward[len(sweeps.prologue):] + [
            ast.Return(value=ast.Tuple(elts=sweeps.results + [name(t) for t in tapes[1::2]], ctx=ast.Load()))]
        bwd_body = backward + [ast.Return(value=ast.Tuple(
            elts=sweeps.param_bars + [name(t) for t in tapes[1::2]], ctx=ast.Load()))]
        fwd = self._function_def(fwd_name, list(self.core.params) + tapes, fwd_body, sweeps)
        bwd = self._function_def(bwd_name, sweeps.params + tapes, bwd_body, sweeps)
        return [fwd, bwd]

    def _handed_over(self, forward, backward):
        """(forward block, backward block, names): the numbers the backward half reads that the
        forward half set, to push at the end of the forward block and pop at the start of the
        backward one.  Where the forward sweep ends in ``if t:`` (a recursion's base case and
        general case), each branch hands over what the backward sweep of that branch reads."""
        tapes = self.shared_tapes()
        bound = stored_names(forward)

        def read(stmts):
            return {v for v in upward_exposed(stmts) if v in bound and v not in tapes}
        handed = read(backward)
        for v in handed:
            if self.types.env.get(v) not in K.SCALARS:
                raise AssertionError(f"split mode hands over {v} of {self.core.name}, a {self.types.env.get(v)}")
        last = forward[-1] if forward and isinstance(forward[-1], ast.If) else None
        k = next((k for k, s in enumerate(backward) if last and isinstance(s, ast.If) and
                  ast.dump(s.test) == ast.dump(last.test)), None)
        if k is None:
            return [(forward, backward, sorted(handed))]
        branches = backward[k]
        outside = read(backward[:k] + [ast.If(test=branches.test, body=[ast.Pass()], orelse=[])] + backward[k + 1:])
        before = stored_names(backward[:k])
        body = sorted(handed & read(branches.body) - outside - before)
        orelse = sorted(handed & read(branches.orelse) - outside - before)
        return [(forward, backward, sorted(handed - set(body) - set(orelse))),
                (last.body, branches.body, body), (last.orelse, branches.orelse, orelse)]

    def _sweeps(self, values):
        """The pieces of a VJP: prologue, forward sweep, results, backward sweep, cotangents."""
        body = self.top
        forward, counts = self.forward_block(body, None)
        if not self.split:
            forward = reserve_ahead(forward)
        outputs = self.core.outputs
        float_outputs = [o for o in outputs if K.is_float(self.types.of(o))]
        out_bars = [self.naming.unique(f"{o.id}_out_bar" if isinstance(o, ast.Name) else "_out_bar")
                    for o in float_outputs]
        changed_in_reverse = self.plan.taped | self.plan.saved_loop_vars | \
            {s.target.id for s in ast.walk(ast.Module(body=body, type_ignores=[])) if isinstance(s, ast.For)}
        captured, results = [], []
        for o in outputs if values else ():
            if self.split or not (isinstance(o, ast.Name) and (o.id in changed_in_reverse or self.is_array(o.id))):
                results.append(copy.deepcopy(o))
                continue
            keep = self.naming.unique(f"{o.id}_value")
            value = method_of(name(o.id), "copy") if self.is_array(o.id) else name(o.id)
            captured.append(assign(keep, value))
            results.append(name(keep))
        top_locals = self.block_locals[id(body)]
        inits = [assign(self.bar(v), ast.Constant(0.0)) for v in sorted(self.active - self._nested_locals())
                 if not self.is_array(v)]
        seeds = [assign(self.bar(o.id), name(ob)) if o.id in self.taken_over else add_to(self.bar(o.id), name(ob))
                 for o, ob in zip(float_outputs, out_bars) if self.is_active(o)]
        seeds = [assign(self.bar(v), np_call("zeros_like", name(v))) for v in sorted(self.lazy)] + seeds
        self.block_locals[id(body)] = set()
        self.fresh = {t for t, stmt in self.plan.recompute.items() if any(stmt is s for s in self._still_held(body))}
        backward = self.reverse_block(body)
        self.block_locals[id(body)] = top_locals
        param_bars = [name(self.bar(p)) if p in self.active else
                      np_call("zeros_like", name(p)) if self.is_array(p) else ast.Constant(0.0)
                      for p, m in zip(self.core.params, self.mask) if m and p not in self.accumulated]
        return _Sweeps(prologue=self.prologue(counts), forward=forward, captured=captured, results=results,
                       backward=inits + seeds + backward, param_bars=param_bars, float_outputs=float_outputs,
                       out_bars=out_bars,
                       params=list(self.core.params) + out_bars + [self.bar(p) for p in self.accumulated])

    def _function_def(self, fn_name, params, stmts, sweeps):
        args = ast.arguments(posonlyargs=[], args=[ast.arg(p) for p in params], kwonlyargs=[],
                             kw_defaults=[], defaults=[])
        fn = ast.FunctionDef(name=fn_name, args=args, body=stmts, decorator_list=[], returns=None,
                             type_params=[])
        ndims = {v: self.types.env[v].ndim for v in self.types.env if self.is_array(v)}
        ndims.update({self.bar(v): ndims[v] for v in set(ndims) & self.active})
        ndims.update({ob: ndims[o.id] for o, ob in zip(sweeps.float_outputs, sweeps.out_bars)
                      if isinstance(o, ast.Name) and o.id in ndims})
        adjoints = set(ndims) - set(self.types.env)
        consumed = {ob for o, ob in zip(sweeps.float_outputs, sweeps.out_bars)
                    if isinstance(o, ast.Name) and o.id in self.taken_over}
        fn.sd_aliasing = ndims, adjoints, consumed       # for loop_order.run_forwards
        return fn

    def _still_held(self, body):
        """Statements whose single-assignment values the variables still hold when the
        backward sweep starts: those of the body, and, in code that runs as it is, those
        in branches outside loops (read again only in the same branch's backward sweep;
        code another transform reads keeps every read defined on every path)."""
        out = []
        for stmt in body:
            out.append(stmt)
            if isinstance(stmt, ast.If) and self.program.final:
                out += self._still_held(stmt.body) + self._still_held(stmt.orelse)
        return out

    def _nested_locals(self):
        return set().union(*(v for k, v in self.block_locals.items() if k != id(self.top)))

    def prologue(self, counts):
        out = []
        for key, (array, pos) in sorted(self.tapes.items()) if not self.split else ():
            args = [ast.Constant(counts.get(key, 0) if isinstance(counts.get(key, 0), int) else 0)]
            if key.startswith("v"):
                args = [ast.Constant(0)] + ([] if key == "v" else [ast.Attribute(
                    value=name("np"), attr=_np_dtype(key[2:]), ctx=ast.Load())])
            if key == "i":
                args.append(ast.Attribute(value=name("np"), attr="int64", ctx=ast.Load()))
            alloc = ast.Call(func=ast.Attribute(value=name("np"), attr="empty", ctx=ast.Load()),
                             args=args, keywords=[])
            out += [assign(array, alloc), assign(pos, ast.Constant(0))]
        needs_value = (self.plan.taped | self.plan.saved_loop_vars) - set(self.core.params) - \
            self.plan.defined_first
        for var in sorted(needs_value):
            if not self.is_array(var):
                out.append(assign(var, const(K.zero(self.types.env[var]))))
        for p in self.core.params:
            if p in self.active and self.is_array(p) and p not in self.accumulated:
                out.append(assign(self.bar(p), np_call("zeros_like", name(p))))
        strided = strided_names(self.core, self.types) if self.refs else set()
        for var, lists in sorted(self.refs.items()):
            placed = set()
            for lst, v in lists:
                held = var if v == SHAPE else v
                if held not in self.core.params and held not in placed and \
                        not (held == self.bar(var) and var in self.core.params):
                    kind = self.types.env[var]
                    empty = np_call("empty", ast.Tuple(elts=[ast.Constant(0)] * kind.ndim, ctx=ast.Load()),
                                     self._dtype(var))
                    if var in strided:      # [::1]: Numba types the list for arrays of any layout
                        empty = ast.Subscript(value=empty, slice=ast.Slice(step=ast.Constant(1)), ctx=ast.Load())
                    out.append(assign(held, empty))
                    placed.add(held)
                out.append(assign(lst, ast.Call(func=rt_attr("ref_tape"), args=[self._kept(var, v)], keywords=[])))
        return out

    # ------------------------------------------------------------ backward sweep
    def reverse_block(self, stmts):
        inits = [assign(self.bar(v), ast.Constant(0.0)) for v in sorted(self.block_locals.get(id(stmts), ()))]
        return inits + self.reverse_sequence(stmts)

    def reverse_sequence(self, stmts):
        """The backward sweep of ``stmts``; after ``if flag: break`` only when it did not break."""
        breaks = [k for k, s in enumerate(stmts) if is_breakif(s)]
        if not breaks:
            return [s for stmt in reversed(stmts) for s in self.reverse_statement(stmt)]
        k = breaks[0]
        flag = stmts[k].test
        saved = set(self.fresh)
        rest = self.reverse_sequence(stmts[k + 1:])
        after_rest, self.fresh = self.fresh, saved
        out = []
        if rest:
            out = self.materialize({flag.id}) + [
                ast.If(test=ast.UnaryOp(op=ast.Not(), operand=copy.deepcopy(flag)), body=rest, orelse=[])]
        self.fresh &= after_rest
        return out + self.reverse_sequence(stmts[:k])

    def reverse_statement(self, stmt):
        if isinstance(stmt, ast.Assign):
            return self.reverse_assign(stmt)
        self.zeroed = set()
        if isinstance(stmt, ast.If):
            return self.reverse_if(stmt)
        if isinstance(stmt, ast.For):
            return self.reverse_for(stmt)
        if isinstance(stmt, ast.While):
            return self.reverse_while(stmt)
        return []

    def reverse_if(self, stmt):
        saved = set(self.fresh)
        body = self.reverse_block(stmt.body)
        after_body, self.fresh = self.fresh, set(saved)
        orelse = self.reverse_block(stmt.orelse)
        self.fresh &= after_body
        if not body and not orelse:
            return []
        test_names = {stmt.test.id} if isinstance(stmt.test, ast.Name) else set()
        self.fresh = saved
        pre = self.materialize(test_names)
        self.fresh = saved & after_body & self.fresh
        return pre + [ast.If(test=copy.deepcopy(stmt.test), body=body or [ast.Pass()], orelse=orelse)]

    def _enter_loop(self, stmt):
        """Recompute, before a loop, loop-invariant values its backward sweep reads."""
        changing = assigned_names(stmt.body) | {getattr(stmt, "target", name("")).id}
        self.fresh = {r for r in self.fresh if not (self.deps[r] | {r}) & changing}
        inside = {n for n in self.plan.needed if n in self.plan.recompute}
        inside &= {n.id for s in stmt.body for n in ast.walk(s) if isinstance(n, ast.Name)}
        invariant = {r for r in inside if not (self.deps[r] | {r}) & changing}
        pre = self.materialize(invariant)
        return pre, set(self.fresh)

    def _loop_pops(self, stmt):
        out = []
        for var in (stmt.sd_counter, stmt.target.id if isinstance(stmt, ast.For) else None):
            if var and (self.plan.pushed(stmt, var) or var in self.plan.saved_loop_vars):
                out += self.pop(var)
        return out

    def reverse_for(self, stmt):
        bounds = self.materialize(set(names(stmt.iter.args)))      # recomputed range bounds
        pre, entry = self._enter_loop(stmt)
        pre = bounds + pre
        body = self.reverse_block(stmt.body)
        self.fresh = entry
        if not body:
            return self._loop_pops(stmt)
        header, body = reversed_range(stmt, self.naming, body)
        header.body = body
        header.sd_backward = True      # for loop_order.run_forwards
        return pre + [header] + self._loop_pops(stmt)

    def reverse_while(self, stmt):
        pre, entry = self._enter_loop(stmt)
        counter = stmt.sd_counter
        k = self.naming.fresh("_k")
        if simple_while(stmt):
            split = next(i for i, s in enumerate(stmt.body) if is_breakif(s))
            inits = [assign(self.bar(v), ast.Constant(0.0)) for v in sorted(self.block_locals[id(stmt.body)])]
            cond = self.reverse_sequence(stmt.body[:split])
            self.fresh = set(entry)
            rest = self.reverse_sequence(stmt.body[split + 1:])
            cond_again = self.reverse_sequence(stmt.body[:split])
            self.fresh = entry
            if not rest and not cond:
                return self._loop_pops(stmt)
            iterations = simplify(ast.BinOp(name(counter), ast.Sub(), ast.Constant(1)))
            loop = ast.For(target=name(k, ast.Store()),
                           iter=ast.Call(func=name("range"), args=[iterations], keywords=[]),
                           body=inits + rest + cond_again, orelse=[])
            last = inits + cond if cond else []
            return pre + last + [loop] + self._loop_pops(stmt)
        body = self.reverse_block(stmt.body)
        self.fresh = entry
        if not body:
            return self._loop_pops(stmt)
        loop = ast.For(target=name(k, ast.Store()),
                       iter=ast.Call(func=name("range"), args=[name(counter)], keywords=[]),
                       body=body, orelse=[])
        return pre + [loop] + self._loop_pops(stmt)

    def reverse_assign(self, stmt):
        target = stmt.targets[0]
        if id(stmt) in self.increment_parts:       # see reverse_write
            return self.finish(target.id, stmt, reset=False)
        if isinstance(target, ast.Subscript):
            if target.value.id in self.active:
                return self.reverse_write(stmt)
            if self.plan.pushed(stmt, target.value.id):        # data the backward sweep reads
                return self.materialize(set(names(index_atoms(target.slice)))) + self.pop_write(stmt)
            return []
        outs = targets(stmt)
        active_outs = [o for o in outs if o in self.active]
        expr = stmt.value
        kind = op_kind(expr)
        if kind == "call" and set(self.program.written_in_place(expr, self.types)) & self.active:
            raise self.array_error(stmt)     # its VJP would run again on arrays it already changed
        if not active_outs:
            return [s for o in reversed(outs) if self.plan.pushed(stmt, o) for s in self.pop(o)]
        var = outs[0]
        if self.is_array(var) and (kind == "copy" or kind == "read" or (kind == "array" and expr.sd_array.alias)):
            return self.finish(var, stmt)         # a view: its adjoint is a view of its base's
        if kind == "rule":
            return self.reverse_rule(stmt, var)
        if kind == "array":
            if expr.sd_array.forward_only:
                raise self.array_error(stmt)
            return self.reverse_array(stmt, var)
        if kind == "call":
            return self.reverse_call(stmt, outs)
        if kind == "custom":
            return self.reverse_custom(stmt, outs)
        if kind == "copy":
            code = [add_to(self.bar(expr.id), name(self.bar(var)))] if self.is_active(expr) else []
            self.zeroed.discard(getattr(expr, "id", None))
            return code + self.finish(var, stmt)
        if kind == "read":            # one element: its adjoint goes back to that element
            if not self.is_active(expr.value):
                return self.finish(var, stmt)
            code = self.materialize(set(names(index_atoms(expr.slice))))
            element = ast.Subscript(value=name(self.bar(expr.value.id)), slice=copy.deepcopy(expr.slice),
                                    ctx=ast.Store())
            code.append(ast.AugAssign(target=element, op=ast.Add(), value=name(self.bar(var))))
            return code + self.finish(var, stmt)
        raise self.array_error(stmt)

    def finish(self, var, stmt, reset=True):
        """After the adjoint of an assignment to ``var``: reset its adjoint, restore its value."""
        code = []
        if reset and var in self.active and var in self.multiple and not self.is_array(var) and \
                not self._is_block_local(var) and \
                not self._first_binding(stmt, var):
            code.append(assign(self.bar(var), ast.Constant(0.0)))
            self.zeroed.add(var)
        if self.plan.pushed(stmt, var):
            code += self.pop(var)
        else:
            self.invalidate(var)
        return code

    def _first_binding(self, stmt, var):
        """Whether ``stmt`` is the first top-level binding of ``var`` (no earlier value to reset for)."""
        if var in self.core.params:
            return False
        for top in self.top:
            if top is stmt:
                return True
            if var in assigned_names([top]):
                return False
        return False

    def _is_block_local(self, var):
        return any(var in v for v in self.block_locals.values())

    def reverse_rule(self, stmt, var):
        if self.is_array(var):
            return self.reverse_elementwise(stmt, var)
        expr = stmt.value
        rule = expr.sd_rule
        args = expr.sd_args
        self_ref = var in names(args)
        code = []
        if self_ref and self.plan.pushed(stmt, var):
            code += self.pop(var)
        code += self.materialize(partial_reads(stmt, self.active))
        mapping = dict(zip(rule.params, args), ans=copy.deepcopy(expr) if self_ref else name(var))
        v_bar = name(self.bar(var))
        self_partials = []
        # an operand whose adjoint was just reset goes last, so `v_bar = 0.0; v_bar += e` folds
        partials = [partial_template(expr, k, self.types) for k in range(len(args))]   # NumPy's, of 0-d arrays
        order = sorted(zip(args, partials), key=lambda ap: isinstance(ap[0], ast.Name) and ap[0].id in self.zeroed)
        for atom, partial in order:
            if partial is None or not self.is_active(atom):
                continue
            term = instantiate(partial, mapping)
            if atom.id == var:
                self_partials.append(term)
            else:
                code.append(add_to(self.bar(atom.id), ast.BinOp(copy.deepcopy(v_bar), ast.Mult(), term)))
                self.zeroed.discard(atom.id)
        if self_ref:
            factor = self_partials[0] if len(self_partials) == 1 else None
            if len(self_partials) > 1:
                factor = self_partials[0]
                for term in self_partials[1:]:
                    factor = ast.BinOp(factor, ast.Add(), term)
            value = ast.BinOp(v_bar, ast.Mult(), factor) if factor is not None else ast.Constant(0.0)
            code.append(assign(self.bar(var), simplify(value)))
            self.invalidate(var)
            self.zeroed.discard(var)
            return code
        return code + self.finish(var, stmt)


SHAPE = None          # a ref-list entry keeping the shapes of an array's bindings (see ref_lists)


def _shape_of(var):
    return ast.Attribute(value=name(var), attr="shape", ctx=ast.Load())


def assigned_defs(body, var):
    return [s for s in walk(body) if isinstance(s, ast.Assign) and var in targets(s)]


def reversed_range(stmt, naming, body):
    """A for-header visiting the iterations of ``stmt`` (that ran) backwards, and its body."""
    start, stop, step = (copy.deepcopy(a) for a in range_parts(stmt.iter.args))
    var = stmt.target.id
    c = range_step(stmt.iter.args)
    counter = stmt.sd_counter
    if counter is None and c in (1, -1):
        last = simplify(ast.BinOp(stop, ast.Sub(), ast.Constant(c)))
        end = simplify(ast.BinOp(start, ast.Sub(), ast.Constant(c)))
        args = [last, end, const(-c)]
        return ast.For(target=name(var, ast.Store()), iter=ast.Call(func=name("range"), args=args,
                                                                     keywords=[]), body=[], orelse=[]), body
    count = name(counter) if counter else trip_count(stmt.iter.args)
    if number(start) == 0 and c == 1:
        args = [simplify(ast.BinOp(count, ast.Sub(), ast.Constant(1))), const(-1), const(-1)]
        return ast.For(target=name(var, ast.Store()), iter=ast.Call(func=name("range"), args=args,
                                                                     keywords=[]), body=[], orelse=[]), body
    k = naming.fresh("_k")
    args = [simplify(ast.BinOp(count, ast.Sub(), ast.Constant(1))), const(-1), const(-1)]
    index = assign(var, simplify(ast.BinOp(start, ast.Add(), ast.BinOp(name(k), ast.Mult(), step))))
    header = ast.For(target=name(k, ast.Store()), iter=ast.Call(func=name("range"), args=args, keywords=[]),
                     body=[], orelse=[])
    return header, [index] + body


def _load(subscript):
    return ast.Subscript(value=copy.deepcopy(subscript.value), slice=copy.deepcopy(subscript.slice),
                         ctx=ast.Load())


def _np_dtype(dtype):
    return "bool_" if dtype == "bool" else dtype
