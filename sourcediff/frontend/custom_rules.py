"""Custom rules as flat functions the pipeline transforms like any other.

A JVP rule ``rule(*nondiff, primals, tangents)`` becomes
``rule(*nondiff, x, y, x_dot, y_dot) -> (out, out_dot)``: its tuple
parameters are unpacked into plain ones.  ``fwd`` returns its residuals as
flat outputs after the primal output, and ``bwd`` takes them as flat
parameters.  Function-valued non-differentiable arguments are bound as
constants of the flat function (``static``), so each is specialised per
function identity.

Reverse mode through a JVP rule needs nothing more: the rule's tangent
output is linear in the tangents, so the VJP of the flat rule with respect
to its tangent parameters is the transpose.
"""
import ast
import copy
import inspect
import itertools

from ..errors import error_at
from .parse import Source, parse


class BoundSource(Source):
    """A parsed function whose names ``bindings`` override the function's own."""

    def __init__(self, fn, node, filename, bindings):
        super().__init__(fn, node, filename)
        self.bindings = bindings

    def lookup(self, name):
        if name in self.bindings:
            return self.bindings[name]
        return super().lookup(name)


class Synthetic:
    """A function sourcediff built from a user's: an AST, its names, where it came from."""

    def __init__(self, source, label):
        self.sd_source = source
        self.__name__ = source.node.name
        self.label = label

    def __repr__(self):
        return f"<sourcediff {self.label}>"

    @property
    def signature(self):
        return inspect.Signature([inspect.Parameter(p, inspect.Parameter.POSITIONAL_OR_KEYWORD)
                                  for p in _params(self.sd_source.node)])


_made = {}


def _once(key, build):
    if key not in _made:
        _made[key] = build()
    return _made[key]


def _params(node):
    return [a.arg for a in node.args.args]


def _with_params(node, params):
    node.args = ast.arguments(posonlyargs=[], args=[ast.arg(p) for p in params], kwonlyargs=[],
                              kw_defaults=[], defaults=[])
    return node


def _bind_static(call, node, skip_leading):
    """Drop the parameters of ``node`` holding static arguments; return (params kept, bindings)."""
    params = _params(node)
    bindings = {}
    nondiff = call.custom.nondiff_argnums
    static = dict(call.static)
    kept = []
    for k, p in enumerate(params):
        position = nondiff[k] if skip_leading and k < len(nondiff) else (k if not skip_leading else None)
        if position is not None and position in static:
            bindings[p] = static[position]
        else:
            kept.append(p)
    return kept, bindings


def body(call):
    """The function that runs when the custom function is called plainly."""
    def build():
        if not call.static:
            return call.custom.fun
        source = parse(call.custom.fun)
        node = copy.deepcopy(source.node)
        kept, bindings = _bind_static(call, node, skip_leading=False)
        return Synthetic(BoundSource(source.fn, _with_params(node, kept), source.filename, bindings),
                         f"body of {call.custom.name}")
    return _once(("body", call), build)


class _Unpack(ast.NodeTransformer):
    """Replace a tuple parameter by the flat names of its leaves."""

    def __init__(self, source, param, tree, what):
        self.source, self.param, self.tree, self.what = source, param, tree, what

    def visit_Assign(self, node):
        if isinstance(node.value, ast.Name) and node.value.id == self.param:
            return self._assign(node.targets[0], self.tree, node)
        return self.generic_visit(node)

    def _assign(self, target, tree, node):
        if tree == ():          # a None residual: nothing to bind
            return []
        if isinstance(target, ast.Name):
            if isinstance(tree, str):
                return [ast.copy_location(ast.Assign([target], ast.Name(tree, ast.Load())), node)]
            elts = [ast.Name(t, ast.Load()) if isinstance(t, str) else self._tuple(t) for t in tree]
            return [ast.copy_location(ast.Assign([target], ast.Tuple(elts, ast.Load())), node)]
        if isinstance(target, (ast.Tuple, ast.List)) and not isinstance(tree, str) and len(target.elts) == len(tree):
            out = []
            for t, sub in zip(target.elts, tree):
                out += self._assign(t, sub, node)
            return out
        raise error_at(node, self.source, f"unpack {self.what} into as many names as it holds "
                       f"({self._count(tree)}): e.g. `{', '.join(leaves(tree)[:2]) or 'x'}, ... = {self.param}`")

    def _tuple(self, tree):
        return ast.Tuple([ast.Name(t, ast.Load()) if isinstance(t, str) else self._tuple(t) for t in tree],
                         ast.Load())

    def _count(self, tree):
        return 1 if isinstance(tree, str) else len(tree)

    def visit_Subscript(self, node):
        if isinstance(node.value, ast.Name) and node.value.id == self.param and \
                isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, int) \
                and not isinstance(self.tree, str):
            sub = self.tree[node.slice.value]
            return ast.Name(sub, ast.Load()) if isinstance(sub, str) else self._tuple(sub)
        return self.generic_visit(node)

    def visit_Name(self, node):
        if node.id == self.param:
            if isinstance(self.tree, str):
                return ast.Name(self.tree, node.ctx)
            raise error_at(node, self.source, f"use {self.what} by unpacking it "
                           f"(`x, y = {self.param}`) or indexing it with a constant")
        return node


def _rule_function(call, rule, label, tuple_params):
    """Parse ``rule``, bind static nondiff arguments, and flatten its tuple parameters.

    ``tuple_params`` maps a parameter index counted from the end (-1, -2) to
    (tree of new names, description).
    """
    source = parse(rule)
    node = copy.deepcopy(source.node)
    params = _params(node)
    kept, bindings = _bind_static(call, node, skip_leading=True)
    leading = [p for p in params[:len(call.custom.nondiff_argnums)] if p in kept]
    tail = params[len(call.custom.nondiff_argnums):]
    flat = list(leading)
    for index, p in enumerate(tail):
        spec = tuple_params.get(index - len(tail))
        if spec is None:
            flat.append(p)
            continue
        tree, what = spec
        node.body = [s for stmt in node.body for s in _as_list(_Unpack(source, p, tree, what).visit(stmt))]
        flat += leaves(tree)
    node.name = label
    return Synthetic(BoundSource(source.fn, _with_params(node, flat), source.filename, bindings),
                     f"{label} ({rule.__qualname__})")


def _as_list(x):
    return x if isinstance(x, list) else [x]


def leaves(tree):
    return [tree] if isinstance(tree, str) else [x for t in tree for x in leaves(t)]


def _names(stem, count):
    return tuple(f"{stem}{i}" for i in range(count))


def _flatten_returns(fn, flatten):
    """Rewrite each ``return`` of the synthetic ``fn`` with ``flatten(value_node) -> [nodes]``."""
    node = fn.sd_source.node
    for ret in [n for n in ast.walk(node) if isinstance(n, ast.Return)]:
        elts = flatten(ret)
        ret.value = ast.Tuple(elts=elts, ctx=ast.Load())
    return fn


def _literal_leaves(value):
    """Leaves of a tuple literal (nested tuples flattened, None dropped)."""
    if isinstance(value, (ast.Tuple, ast.List)):
        return [x for e in value.elts for x in _literal_leaves(e)]
    if isinstance(value, ast.Constant) and value.value is None:
        return []
    return [value]


def _literal_tree(value, names):
    """The tree of ``value`` with leaves named from the iterator ``names``."""
    if isinstance(value, (ast.Tuple, ast.List)):
        return tuple(_literal_tree(e, names) for e in value.elts)
    if isinstance(value, ast.Constant) and value.value is None:
        return ()
    return next(names)


def jvp_rule(call):
    """The flat JVP rule of a custom_jvp call: ``(*nondiff, *primals, *tangents) -> (*outs, *dots)``."""
    custom = call.custom
    return _once(("jvp", call), lambda: _build_jvp_rule(call, custom))


def _build_jvp_rule(call, custom):
    n = len(custom.diff_argnums)
    label = f"{custom.name}_jvp_rule"
    if custom.jvps is not None:
        return _jvps_rule(call, custom, label)
    rule = custom.jvp
    fn = _rule_function(call, rule, label, {-2: (_names("_primal", n), "the primals"),
                                            -1: (_names("_tangent", n), "the tangents")})
    source = fn.sd_source

    def flatten(ret):
        value = ret.value
        if not (isinstance(value, (ast.Tuple, ast.List)) and len(value.elts) == 2):
            raise error_at(ret, source, f"Custom JVP rule {rule.__name__} for function {custom.name} "
                           "must produce a pair (list or tuple of length two) representing primal "
                           "and tangent outputs")
        out, dot = value.elts
        return _literal_leaves(out) + _literal_leaves(dot)
    return _flatten_returns(fn, flatten)


def _jvps_rule(call, custom, label):
    """``defjvps``: out = f(*primals); out_dot = sum(rule_i(t_i, out, *primals))."""
    source = parse(custom.fun)
    n = len(custom.diff_argnums)
    primals, tangents = _names("_primal", n), _names("_tangent", n)
    bindings = {custom.name: custom}
    terms = []
    for i, rule in enumerate(custom.jvps):
        if rule is None:
            continue
        bindings[f"_rule{i}"] = rule
        terms.append(f"_rule{i}({tangents[i]}, ans, {', '.join(primals)})")
    text = (f"def {label}({', '.join(primals + tangents)}):\n"
            f"    ans = {custom.name}({', '.join(primals)})\n"
            f"    return ans, {' + '.join(terms) or '0.0'}\n")
    node = ast.parse(text).body[0]
    ast.increment_lineno(node, source.node.lineno - 1)
    return Synthetic(BoundSource(source.fn, node, source.filename, bindings), f"{label} (defjvps)")


def fwd_rule(call):
    """The flat fwd of a custom_vjp call: ``(*args) -> (out, *residual leaves)``, and the residual tree."""
    return _once(("fwd", call), lambda: _build_fwd(call))


def _build_fwd(call):
    custom = call.custom
    fwd = custom.fwd
    source = parse(fwd)
    node = copy.deepcopy(source.node)
    kept, bindings = _bind_static(call, node, skip_leading=False)
    node.name = f"{custom.name}_fwd"
    fn = Synthetic(BoundSource(source.fn, _with_params(node, kept), source.filename, bindings),
                   f"fwd rule of {custom.name} ({fwd.__qualname__})")
    trees = []

    def flatten(ret):
        value = ret.value
        if not (isinstance(value, (ast.Tuple, ast.List)) and len(value.elts) == 2):
            raise error_at(ret, fn.sd_source, f"the fwd rule {fwd.__name__} of {custom.name} must return "
                           "a pair (primal output, residuals)")
        out, res = value.elts
        trees.append(_literal_tree(res, (f"_res{i}" for i in itertools.count())))
        return [out] + _literal_leaves(res)
    _flatten_returns(fn, flatten)
    for ret in (n for n in ast.walk(node) if isinstance(n, ast.Return) and len(n.value.elts) == 1):
        ret.value = ret.value.elts[0]       # no residual leaves: the output alone, as call sites bind it
    if any(t != trees[0] for t in trees):
        raise error_at(node, fn.sd_source, f"every return of {fwd.__name__} must give residuals "
                       "of the same structure")
    fn.residuals = trees[0] if trees else ()
    return fn


def bwd_rule(call):
    """The flat bwd of a custom_vjp call: ``(*nondiff, *residual leaves, g) -> (*cotangents)``."""
    return _once(("bwd", call), lambda: _build_bwd(call))


def _build_bwd(call):
    custom = call.custom
    bwd = custom.bwd
    tree = fwd_rule(call).residuals
    fn = _rule_function(call, bwd, f"{custom.name}_bwd", {-2: (tree, "the residuals")})
    n = len(custom.diff_argnums)

    def flatten(ret):
        value = ret.value
        if not (isinstance(value, (ast.Tuple, ast.List)) and len(value.elts) == n):
            got = f"a tuple of length {len(value.elts)}" if isinstance(value, (ast.Tuple, ast.List)) \
                else "a single value"
            raise error_at(ret, fn.sd_source,
                           "Custom VJP bwd rule must produce an output with the same container (pytree) "
                           f"structure as the args tuple of the primal function, and in particular must "
                           f"produce a tuple of length equal to the number of arguments to the primal "
                           f"function, but got {got} for {custom.name} with {n} differentiable "
                           f"argument(s); return None for a zero cotangent")
        return [ast.Constant(0.0) if isinstance(e, ast.Constant) and e.value is None else e
                for e in value.elts]
    return _flatten_returns(fn, flatten)


def top_level(custom):
    """A plain function calling ``custom``, for transforms applied to a custom function itself."""
    def build():
        source = parse(custom.fun)
        params = list(custom.signature.parameters)
        text = f"def {custom.name}_call({', '.join(params)}):\n    return {custom.name}({', '.join(params)})\n"
        node = ast.parse(text).body[0]
        ast.increment_lineno(node, source.node.lineno - 1)
        return Synthetic(BoundSource(source.fn, node, source.filename, {custom.name: custom}),
                         f"call of {custom.name}")
    return _once(("top", custom), build)
