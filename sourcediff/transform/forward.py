"""Forward mode: each active value gets a tangent, computed next to it.

``def f(x, n)`` becomes ``def f_jvp(x, n, x_dot)`` returning the outputs and
then their tangents.  Control flow is kept as it is.
"""
import ast
import copy

from .. import kinds as K
from ..codegen import add_all, number, simplify
from ..frontend.normalize import assign, instantiate, name
from ..analysis.dataflow import names, op_kind, targets
from ..custom import custom_vjp
from ..errors import error_at
from ..frontend import custom_rules
from .common import (array_mapping, call_args_kinds, custom_parts, emit_primal, mentions_array,
                     partial_template)
from .vector_forward import NotVectorizable


class Forward:
    def __init__(self, core, types, active, mask, program, naming, vector=False):
        self.core, self.types, self.active = core, types, active
        self.mask, self.program, self.naming = mask, program, naming
        self.vector = vector        # callees' JVPs carry many tangents (see vector_forward)

    def dot(self, atom):
        if isinstance(atom, ast.Name) and atom.id in self.active:
            return name(self.naming.derived(atom.id, "dot"))
        return ast.Constant(0.0)

    def dot_name(self, var):
        return self.naming.derived(var, "dot")

    def function(self, fn_name):
        params = list(self.core.params) + [self.dot_name(p) for p, m in zip(self.core.params, self.mask) if m]
        # a parameter not differentiated but later assigned an active value starts with a zero tangent
        zero_tangents = [assign(self.dot_name(p), self.zeros_like(name(p)))
                         for p, m in zip(self.core.params, self.mask) if not m and p in self.active]
        body = zero_tangents + self.block(self.core.body[:-1])
        outputs = self.core.outputs
        dots = [self.dot(o) if self.dot(o).__class__ is ast.Name else self.zeros_like(o)
                for o in outputs if K.is_float(self.types.of(o))]
        values = [copy.deepcopy(o) for o in outputs] + dots
        body.append(ast.Return(value=ast.Tuple(elts=values, ctx=ast.Load())))
        args = ast.arguments(posonlyargs=[], args=[ast.arg(p) for p in params], kwonlyargs=[],
                             kw_defaults=[], defaults=[])
        return ast.FunctionDef(name=fn_name, args=args, body=body, decorator_list=[],
                               returns=None, type_params=[])

    def zeros_like(self, atom):
        if not isinstance(self.types.of(atom), K.Array):
            return ast.Constant(0.0)
        return ast.Call(func=ast.Attribute(value=name("np"), attr="zeros_like", ctx=ast.Load()),
                        args=[copy.deepcopy(atom)], keywords=[])

    def block(self, stmts):
        out = []
        for stmt in stmts:
            out.extend(self.statement(stmt))
        return out or [ast.Pass()]

    def statement(self, stmt):
        if isinstance(stmt, ast.Assign):
            return self.assignment(stmt)
        if isinstance(stmt, ast.If):
            new = copy.copy(stmt)
            new.body, new.orelse = self.block(stmt.body), self.block(stmt.orelse) if stmt.orelse else []
            return [new]
        if isinstance(stmt, (ast.For, ast.While)):
            new = copy.copy(stmt)
            new.body = self.block(stmt.body)
            return [new]
        return [copy.deepcopy(stmt)]

    def primal(self, stmt):
        return emit_primal(stmt, self.types, self.program)

    def assignment(self, stmt):
        target = stmt.targets[0]
        expr = stmt.value
        if isinstance(target, ast.Subscript):
            if target.value.id not in self.active:
                return [self.primal(stmt)]
            write = ast.Subscript(value=name(self.dot_name(target.value.id)), slice=copy.deepcopy(target.slice),
                                  ctx=ast.Store())
            return [assign(write, self.dot(expr), stmt), self.primal(stmt)]
        outs = targets(stmt)
        kind = op_kind(expr)
        writes_active = set(self.program.written_in_place(expr, self.types)) & self.active
        if not set(outs) & self.active and not writes_active:
            return [self.primal(stmt)]
        if kind == "call":
            return [self.call(stmt)]
        if kind == "custom":
            return [self.custom(stmt)]
        var = outs[0]
        if kind == "rule":
            self_ref = var in names(expr.sd_args)
            ans = self.primal(stmt).value if self_ref else name(var)
            mapping = dict(zip(expr.sd_rule.params, expr.sd_args), ans=ans)
            partials = [partial_template(expr, k, self.types) for k in range(len(expr.sd_args))]
            terms = [ast.BinOp(instantiate(p, mapping), ast.Mult(), self.dot(a))
                     for a, p in zip(expr.sd_args, partials)
                     if p is not None and self.dot(a).__class__ is ast.Name]
            uses_ans = any(p is not None and "ans" in p for p in partials)
            return self.ordered(stmt, var, simplify(add_all(terms)), uses_ans and not self_ref)
        if kind == "array":
            return self.array_op(stmt, var)
        if kind == "copy":
            tangent = self.dot(expr)
        elif kind == "read":
            tangent = ast.Subscript(value=self.dot(expr.value), slice=copy.deepcopy(expr.slice), ctx=ast.Load())
        elif kind == "reserve":
            tangent = copy.deepcopy(expr)
            tangent.args[0] = self.dot(expr.args[0])
        else:
            tangent = ast.Constant(0.0)
        return self.ordered(stmt, var, tangent, False)

    def ordered(self, stmt, var, tangent, after, may_be_scalar=True):
        """The tangent assignment and the primal, in an order that reads the right values.

        The tangent goes first, where it can, so temporaries fold into the user's
        expressions; after the primal when it reads the result.  An array's zero
        or scalar tangent is made an array shaped like the result.
        """
        if isinstance(self.types.env[var], K.Array) and may_be_scalar and not mentions_array(tangent, self.types) \
                and not any(isinstance(n, ast.Name) and n.id in self.array_dots for n in ast.walk(tangent)):
            fill = "zeros_like" if number(tangent) == 0 else "full_like"
            args = [name(var)] + ([tangent] if fill == "full_like" else [])
            tangent = ast.Call(func=ast.Attribute(value=name("np"), attr=fill, ctx=ast.Load()),
                               args=args, keywords=[])
            after = True
        code = assign(self.dot_name(var), tangent, stmt)
        return [self.primal(stmt), code] if after else [code, self.primal(stmt)]

    def array_op(self, stmt, var):
        """The tangent of an array rule: the view of the tangent, the rule on tangents, or its terms."""
        expr = stmt.value
        rule = expr.sd_array
        mapping = array_mapping(expr)
        kinds = [self.types.of(a) for a in expr.sd_args]
        if rule.alias or rule.linear:
            moving = rule.differentiable_params
            dots = {}
            for p, a in mapping.items():
                if p not in moving:
                    dots[p] = a
                elif self.dot(a).__class__ is ast.Name:
                    dots[p] = self.dot(a)
                else:
                    dots[p] = ast.Call(func=ast.Attribute(value=name("np"), attr="zeros_like", ctx=ast.Load()),
                                       args=[copy.deepcopy(a)], keywords=[]) if isinstance(kinds[rule.params.index(p)], K.Array) \
                        else ast.Constant(0.0)
            return self.ordered(stmt, var, instantiate(rule.template, dots), False, may_be_scalar=False)
        tangents = rule.tangent_terms(kinds) or ()
        terms = []
        for p, template in zip(rule.params, tangents):
            if template is not None and self.dot(mapping[p]).__class__ is ast.Name:
                terms.append(instantiate(template, dict(mapping, ans=name(var), **{f"d{p}": self.dot(mapping[p])})))
        uses_ans = any(t is not None and "ans" in t for t in tangents)
        return self.ordered(stmt, var, add_all(terms), uses_ans, may_be_scalar=not terms)

    @property
    def array_dots(self):
        return {self.dot_name(v) for v in self.active if isinstance(self.types.env.get(v), (K.Array, K.List))}

    def call(self, stmt):
        expr = stmt.value
        arg_kinds = call_args_kinds(expr, self.types)
        mask = tuple(isinstance(a, ast.Name) and a.id in self.active for a in expr.args)
        callee = self.program.request(expr.sd_func, arg_kinds, "jvps" if self.vector else "jvp", mask)
        outs = targets(stmt)
        result = self.types.env[outs[0]] if len(outs) == 1 else K.Tuple(tuple(self.types.env[o] for o in outs))
        result_kinds = result.items if isinstance(result, K.Tuple) else (result,)
        dots = [self.dot_name(o) if o in self.active else "_" for o, k in zip(outs, result_kinds)
                if K.is_float(k)]
        elts = [name(o, ast.Store()) for o in outs] + [name(d, ast.Store()) for d in dots]
        args = [copy.deepcopy(a) for a in expr.args] + [self.dot(a) for a, m in zip(expr.args, mask) if m]
        call = ast.Call(func=name(callee), args=args, keywords=[])
        return assign(ast.Tuple(elts=elts, ctx=ast.Store()), call, stmt)

    def custom(self, stmt):
        """The user's JVP rule, spliced in: ``out, out_dot = rule(*nondiff, *primals, *tangents)``."""
        expr = stmt.value
        custom = expr.sd_custom.custom
        if isinstance(custom, custom_vjp):
            raise error_at(stmt, self.core.source, "can't apply forward-mode autodiff (jvp) to a "
                           f"custom_vjp function. {custom.name} has a custom_vjp rule only; use grad, "
                           "vjp or jacrev, or give it a custom_jvp rule")
        custom.check_defined()
        if self.vector:         # the user's rule takes one tangent
            raise NotVectorizable(f"the custom_jvp rule of {custom.name}")
        rule = custom_rules.jvp_rule(expr.sd_custom)
        nondiff, diff = custom_parts(expr)
        args = [copy.deepcopy(a) for a in nondiff + diff]
        kinds = tuple(self.types.of(a) for a in args) + ("float",) * len(diff)
        args += [self.dot(a) for a in diff]
        callee = self.program.request(rule, kinds, "primal", None)
        outs = targets(stmt)
        dots = [self.dot_name(o) if o in self.active else "_" for o in outs]
        elts = [name(o, ast.Store()) for o in outs] + [name(d, ast.Store()) for d in dots]
        return assign(ast.Tuple(elts=elts, ctx=ast.Store()), ast.Call(func=name(callee), args=args, keywords=[]),
                      stmt)
