"""Reverse mode of array operations: writes into arrays, array rules, elementwise rules on arrays."""
import ast
import copy

from ..analysis.dataflow import index_atoms, names, operands
from ..analysis.tape import partial_reads
from ..codegen import simplify
from ..frontend.normalize import assign, instantiate, name
from .common import add_to, array_mapping, method_of, np_call, partial_template, rt_attr


class ReverseArrays:
    """The array adjoints of ``Reverse`` (a mixin: it uses the adjoint names, tapes and
    recomputation there).  A write moves the element's adjoint into the value's and zeroes it;
    contributions of broadcasting operations are summed back by ``_rt.accumulate``."""

    def reverse_write(self, stmt):
        """``a[index] = v``: v's adjoint takes a's there, which is then zero; the old elements come back."""
        target = stmt.targets[0]
        value = stmt.value
        code = self.materialize(set(names(index_atoms(target.slice))))
        there = ast.Subscript(value=name(self.bar(target.value.id)), slice=copy.deepcopy(target.slice),
                              ctx=ast.Load())
        zero = assign(ast.Subscript(value=copy.deepcopy(there.value), slice=copy.deepcopy(there.slice),
                                    ctx=ast.Store()), ast.Constant(0.0))
        if not self.is_active(value):
            code.append(zero)
        elif self.is_element(target):
            code += [self.accumulate(value.id, there, False), zero]
            self.zeroed.discard(value.id)
        else:       # the value may be a view of the same array: take the adjoint out first
            taken = self.naming.fresh("_g")
            code += [assign(taken, method_of(there, "copy")), zero,
                     self.accumulate(value.id, name(taken), True)]
            self.zeroed.discard(value.id)
        if self.plan.pushed(stmt, target.value.id):
            code += self.pop_write(stmt)
        return code

    def accumulate(self, var, contribution, broadcast):
        """``var_bar += contribution``, summing a broadcast contribution back to var's shape."""
        if self.is_array(var):
            if broadcast:
                return assign(self.bar(var), ast.Call(func=rt_attr("accumulate"),
                                                      args=[name(self.bar(var)), contribution], keywords=[]))
            return add_to(self.bar(var), contribution)
        if broadcast:
            contribution = np_call("sum", contribution)
        return add_to(self.bar(var), contribution)

    def reverse_array(self, stmt, var):
        """An array rule: each active operand's adjoint takes its contribution."""
        expr = stmt.value
        rule = expr.sd_array
        kinds = [self.types.of(a) for a in expr.sd_args]
        code, g, ans = self._self_reference(stmt, var)
        code += self.materialize(set(names(operands(expr))))
        mapping = dict(array_mapping(expr), g=g, ans=ans)
        result_is_array = self.is_array(var)
        for p, atom, template in zip(rule.params, expr.sd_args, rule.contributions(kinds) or ()):
            if template is None or not self.is_active(atom):
                continue
            contribution = instantiate(template, mapping)
            code.append(self.accumulate(atom.id, contribution, rule.broadcast and result_is_array))
            self.zeroed.discard(atom.id)
        if var in names(expr.sd_args):
            self.invalidate(var)
            return code
        return code + self.finish(var, stmt)

    def _self_reference(self, stmt, var):
        """For an array rebound from its own value (``a = a * x``): the new adjoint and value, kept
        aside, and the old ones restored.  Returns (code, adjoint node, result node)."""
        if not (self.is_array(var) and var in names(operands(stmt.value))):
            return [], name(self.bar(var)), name(var)
        if not self.plan.pushed(stmt, var):
            raise self.array_error(stmt)
        g, ans = self.naming.fresh("_g"), self.naming.fresh("_new")
        code = [assign(g, name(self.bar(var))), assign(ans, name(var))] + self.pop(var)
        return code, name(g), name(ans)

    def reverse_elementwise(self, stmt, var):
        """A scalar rule applied to arrays: contributions summed back to each operand's shape."""
        expr = stmt.value
        code, g, ans = self._self_reference(stmt, var)
        code += self.materialize(partial_reads(stmt, self.active))
        mapping = dict(zip(expr.sd_rule.params, expr.sd_args), ans=ans)
        for k, atom in enumerate(expr.sd_args):
            partial = partial_template(expr, k, self.types)
            if partial is None or not self.is_active(atom):
                continue
            contribution = simplify(ast.BinOp(copy.deepcopy(g), ast.Mult(), instantiate(partial, mapping)))
            code.append(self.accumulate(atom.id, contribution, True))
            self.zeroed.discard(atom.id)
        if var in names(expr.sd_args):
            self.invalidate(var)
            return code
        return code + self.finish(var, stmt)
