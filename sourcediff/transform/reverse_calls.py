"""Reverse mode of calls: a user function's VJP, a custom rule's backward part."""
import ast
import copy

from .. import kinds as K
from ..analysis.dataflow import names, op_kind, targets
from ..analysis.tape import custom_reads
from ..custom import custom_vjp
from ..frontend import custom_rules
from ..frontend.normalize import assign, name
from .common import add_to, call_args_kinds, custom_parts


class ReverseCalls:
    """The calls of ``Reverse`` (a mixin: it uses the adjoint names, tapes and recomputation there)."""

    def reverse_custom(self, stmt, outs):
        """A custom rule's backward part: the transposed JVP rule, or bwd."""
        expr = stmt.value
        custom = expr.sd_custom.custom
        nondiff, diff = custom_parts(expr)
        active_diff = [a for a in diff if self.is_active(a)]
        self_ref, code = self._call_prologue(stmt, outs, custom_reads(stmt))
        got = [self.naming.fresh("_b") for _ in active_diff]
        if isinstance(custom, custom_vjp):          # cotangents = bwd(*nondiff, *residuals, *out_bars)
            values = outs[:len(outs) - expr.sd_residuals]
            out_bars = [name(self.bar(v)) if v in self.active else ast.Constant(0.0) for v in values]
            args = [copy.deepcopy(a) for a in nondiff] + [name(r) for r in outs[len(values):]]
            kinds = tuple(self.types.of(a) for a in args) + ("float",) * len(values)
            callee = self.program.request(custom_rules.bwd_rule(expr.sd_custom), kinds, "primal", None)
            args += out_bars
            results = [got[active_diff.index(a)] if a in active_diff else "_" for a in diff]
        else:       # the VJP of the rule with respect to its tangents is the transposed JVP
            args = [copy.deepcopy(a) for a in nondiff + diff] + [ast.Constant(0.0) for _ in diff]
            mask = tuple([False] * (len(nondiff) + len(diff)) + [self.is_active(a) for a in diff])
            rule = custom_rules.jvp_rule(expr.sd_custom)
            callee = self.program.request(rule, tuple(self.types.of(a) for a in args), "cotangents", mask)
            args += [ast.Constant(0.0) for _ in outs] + [name(self.bar(o)) if o in self.active
                                                         else ast.Constant(0.0) for o in outs]
            results = got
        target = ast.Tuple(elts=[name(r, ast.Store()) for r in results], ctx=ast.Store())
        code.append(assign(target, ast.Call(func=name(callee), args=args, keywords=[]), stmt))
        return code + self._call_epilogue(stmt, outs, self_ref, zip(active_diff, got))

    def splits(self, stmt):
        """Whether the sweeps run the split halves of the function ``stmt`` calls (its results
        carry derivatives): ``fwd`` in the forward sweep, ``bwd`` in the backward sweep."""
        expr = stmt.value
        return op_kind(expr) == "call" and bool(set(targets(stmt)) & self.active) and \
            self.program.splits(expr.sd_func, call_args_kinds(expr, self.types))

    def call_mask(self, expr):
        return tuple(self.is_active(a) for a in expr.args)

    def reverse_call(self, stmt, outs):
        """A user function's VJP, called with the arguments and the results' adjoints (joint
        mode), or its backward half (split mode), which leaves the arrays it writes as they
        were before the call."""
        expr = stmt.value
        kinds = call_args_kinds(expr, self.types)
        mask = self.call_mask(expr)
        split = self.splits(stmt)
        written = [] if split and self.split else self.written_arguments(stmt)
        if written and (not self.program.final or set(written) & set(outs)):
            raise self.array_error(stmt)
        self.program.used_final_forms |= bool(written)
        arrays = [o for o in outs if self.is_array(o)]
        # adjoints allocated afresh right after the call (lazy ones) are the callee's to use
        consuming = bool(arrays) and all(o in self.lazy and o not in names(expr.args) for o in arrays)
        callee = self.program.request(expr.sd_func, kinds,
                                      "bwd" if split else "consuming" if consuming else "cotangents", mask)
        into = set(self.program.accumulated_adjoints(expr.sd_func, kinds, mask))    # it adds into these
        returned = [a for k, a in enumerate(expr.args) if mask[k] and k not in into]
        bars = [name(self.bar(o)) if o in self.active else ast.Constant(0.0)
                for o in outs if K.is_float(self.types.env[o])]
        held = []      # an array rebound to the result (u = step(u)): its adjoint, before the old one returns
        for k, bar in enumerate(bars):
            if isinstance(bar, ast.Name) and self.is_array(outs[k]) and outs[k] in names(expr.args):
                keep = self.naming.fresh("_g")
                held.append(assign(keep, bar))
                bars[k] = name(keep)
        restored = [self.pop_elements(name(a), self.types.env[a].dtype) for a in reversed(written)]
        for a in written:
            self.invalidate(a)
        self_ref, code = self._call_prologue(stmt, outs, set(names(expr.args)))
        code = held + ([] if split else restored) + code
        got = [self.naming.fresh("_b") for _ in returned]
        passed = [name(self.bar(expr.args[k].id)) for k in sorted(into)]
        tapes = self.shared_tapes() if split else []
        call = ast.Call(func=name(callee), args=[copy.deepcopy(a) for a in expr.args] + bars + passed +
                        [name(t) for t in tapes], keywords=[])
        results = got + tapes[1::2]          # a backward half returns the tape positions too
        code.append(assign(ast.Tuple(elts=[name(r, ast.Store()) for r in results], ctx=ast.Store()), call, stmt)
                    if results else ast.Expr(value=call))
        self.zeroed -= {expr.args[k].id for k in into}
        # a backward half leaves the arrays as they were: its caller drops what it saved of them
        code += restored if split else self._restore_again(written)
        return code + self._call_epilogue(stmt, outs, self_ref, zip(returned, got))

    def written_arguments(self, stmt):
        """The arrays that a call, whose VJP the backward sweep runs, writes into.

        They carry no derivatives (``reverse_assign`` refuses others).  The forward sweep
        saves their elements before the call; the backward sweep writes them back before
        the VJP, which runs the call again, and once more after it, for the code before."""
        expr = stmt.value
        if op_kind(expr) != "call" or not set(targets(stmt)) & self.active:
            return []
        positions = self.program.writes_arguments(expr.sd_func, call_args_kinds(expr, self.types))
        return list(dict.fromkeys(expr.args[k].id for k in sorted(positions) if isinstance(expr.args[k], ast.Name)))

    def save_written_arguments(self, stmt):
        written = self.written_arguments(stmt) if self.program.final else []
        return [s for a in written for s in self.push_elements(name(a), self.types.env[a].dtype)]

    def _restore_again(self, written):
        code = []
        for dtype in dict.fromkeys(self.types.env[a].dtype for a in written):
            start = self.naming.fresh("_q")
            code.append(assign(start, name(self.view_tape(dtype)[1])))
            code += [self.pop_elements(name(a), dtype, restore=start) for a in written
                     if self.types.env[a].dtype == dtype]
        for a in written:
            self.invalidate(a)
        return code

    def _call_prologue(self, stmt, outs, reads):
        """Restore results that are also arguments, recompute what the call reads."""
        self_ref = set(outs) & set(names(stmt.value.args))
        code = [s for o in outs if o in self_ref and self.plan.pushed(stmt, o) for s in self.pop(o)]
        return self_ref, code + self.materialize(reads)

    def _call_epilogue(self, stmt, outs, self_ref, contributions):
        """Reset the results' adjoints, add the arguments' contributions, restore the results."""
        code = [assign(self.bar(o), ast.Constant(0.0)) for o in outs
                if o in self.active and (o in self.multiple or o in self_ref) and not self._is_block_local(o)
                and not self.is_array(o)]
        code += [add_to(self.bar(a.id), name(g)) for a, g in contributions]
        self.zeroed -= set(outs) | set(names(stmt.value.args))
        for o in reversed(outs):
            if o in self_ref:
                self.invalidate(o)
            else:
                code += self.finish(o, stmt, reset=False)
        return code
