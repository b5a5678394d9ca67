"""Reverse mode of array operations: writes into arrays, array rules, elementwise rules on arrays."""
import ast
import copy
from collections import Counter

from .. import kinds as K
from ..analysis.dataflow import index_atoms, names, op_kind, operands, targets
from ..analysis.tape import partial_reads
from ..codegen import blocks, simplify
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
        if id(stmt) in self.increments:        # a[i] += e: e's adjoint is a's there, which stays
            added, sign = self.increments[id(stmt)]
            if self.is_active(added):
                code.append(self.accumulate(added.id, there if sign > 0 else
                                            ast.UnaryOp(op=ast.USub(), operand=there), False))
                self.zeroed.discard(added.id)
            return code + (self.pop_write(stmt) if self.plan.pushed(stmt, target.value.id) else [])
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


ALONGSIDE = ("copy", "rule", "read", "shape", "attr", "len")    # what may run between an update's parts


def increments(body, types, is_element):
    """The element updates ``a[i] += e`` (or ``-= e``) among the core's statements, as the
    front end writes them: ``x = a[i]; ...; v = x + e; a[i] = v``, x and v read once, and
    only numbers assigned in between (so nothing reads, zeroes or aliases a's adjoint there).
    Their adjoint is ``e_bar += a_bar[i]`` with a_bar[i] left as it is, where the general
    rules would zero it and add it back through x.  Returns ({id(write): (e, sign)}, the ids
    of the reads and sums, whose adjoints that one replaces)."""
    module = ast.Module(body=body, type_ignores=[])
    reads = Counter(n.id for n in ast.walk(module) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load))
    found, parts = {}, set()
    for stmts in blocks(module):
        for w, write in enumerate(stmts):
            target = getattr(write, "targets", [None])[0]
            if not (isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name)
                    and isinstance(write.value, ast.Name) and is_element(target)):
                continue
            update = _update(stmts[:w], target, write.value.id, types, reads)
            if update is not None:
                r, d, added, sign = update
                found[id(write)] = (added, sign)
                parts |= {id(stmts[r]), id(stmts[d])}
    return found, parts


def _update(before, target, total, types, reads):
    """(position of the read, of the sum, the added atom, its sign) where the statements
    ``before`` a write of ``total`` into ``target`` end in an update of that element, else None."""
    if not before or not _binds(before[-1], total) or reads[total] != 1:
        return None
    value = before[-1].value
    if not (isinstance(value, ast.BinOp) and isinstance(value.op, (ast.Add, ast.Sub))
            and isinstance(value.left, ast.Name)):
        return None
    first, sign = value.left.id, 1 if isinstance(value.op, ast.Add) else -1
    protected = set(names(index_atoms(target.slice))) | {target.value.id}
    for k in range(len(before) - 2, -1, -1):
        stmt = before[k]
        if _binds(stmt, first):
            read = stmt.value
            same = isinstance(read, ast.Subscript) and isinstance(read.value, ast.Name) and \
                read.value.id == target.value.id and ast.dump(read.slice) == ast.dump(target.slice)
            return (k, len(before) - 1, value.right, sign) if same and reads[first] == 1 else None
        if not (isinstance(stmt, ast.Assign) and all(isinstance(t, ast.Name) for t in stmt.targets)):
            return None
        bound = {t.id for t in stmt.targets}
        if bound & protected or op_kind(stmt.value) not in ALONGSIDE or \
                any(isinstance(types.env.get(b), K.Array) for b in bound):
            return None
    return None


def _binds(stmt, var):
    return isinstance(stmt, ast.Assign) and targets(stmt) == [var]
