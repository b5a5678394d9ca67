"""Custom rules as flat functions the pipeline transforms like any other.

A JVP rule ``rule(*nondiff, primals, tangents)`` becomes
``rule(*nondiff, x, y, x_dot, y_dot) -> (*outs, *out_dots)``: its pytree
parameters (the primals and tangents tuples, whatever pytrees they hold)
are flattened into their leaves by ``structured.flatten``, and so is what
it returns.  ``fwd`` returns the leaves of its primal output and then of
its residuals; ``bwd`` takes the residuals' and the output cotangent's
leaves and returns one cotangent leaf per argument leaf (a ``None`` in
place of a subtree giving zeros).  Function-valued non-differentiable
arguments are pytrees too (``function_values``): the functions they call
are part of their structure, what they capture are leaves.

Reverse mode through a JVP rule needs nothing more: the rule's tangent
output is linear in the tangents, so the VJP of the flat rule with respect
to its tangent parameters is the transpose.
"""
import ast
import copy

from .. import pytree as T
from ..errors import error_at
from . import structured
from .parse import BoundSource, Synthetic, parse

_made = {}


def _once(key, build):
    if key not in _made:
        _made[key] = build()
    return _made[key]


def _renamed(fn, name, positions):
    """``fn`` renamed ``name``, and the argument position of each of its parameters (None
    past ``positions``, which gives the positions of the leading parameters)."""
    source = parse(fn)
    node = copy.deepcopy(source.node)
    node.name = name
    label = f"{name} ({getattr(fn, '__qualname__', name)})"
    params = range(len(node.args.args))
    return Synthetic(BoundSource(source.fn, node, source.filename, {}), label), \
        [positions[k] if k < len(positions) else None for k in params]


def _pair(value, ret, source, message):
    if not (isinstance(value, T.Node) and value.type in (tuple, list) and len(value.children) == 2):
        raise error_at(ret, source, message)
    return value.children


def _diff_trees(call):
    return T.tuple_of(call.tree(i) for i in call.custom.diff_argnums)


def _positions(call):
    return range(len(call.custom.signature.parameters))


def body(call):
    """The function that runs when the custom function is called plainly."""
    def build():
        return structured.flatten(call.custom.fun, [call.tree(p) for p in _positions(call)])
    return _once(("body", call), build).fn


def out_tree(call):
    """The structure of what the custom function returns (None: known only after normalising)."""
    return structured.flatten(call.custom.fun, [call.tree(p) for p in _positions(call)]).out_tree


def jvp_rule(call):
    """The flat JVP rule of a custom_jvp call: ``(*nondiff, *primals, *tangents) -> (*outs, *dots)``."""
    return _once(("jvp", call), lambda: _build_jvp_rule(call))


def _jvp_returns(call, rule_name):
    custom = call.custom

    def returns(value, ret, source):
        out, dot = _pair(value, ret, source, f"Custom JVP rule {rule_name} for function {custom.name} "
                         "must produce a pair (list or tuple of length two) representing primal and "
                         "tangent outputs")
        if T.structure(out) != T.structure(dot):
            raise error_at(ret, source, f"Custom JVP rule {rule_name} for function {custom.name} must "
                           "produce primal and tangent outputs with equal container (pytree) structures, "
                           f"but got {T.structure(out)!r} and {T.structure(dot)!r} respectively")
        return T.structure(value), T.leaves(out) + T.leaves(dot)
    return returns


def _build_jvp_rule(call):
    custom = call.custom
    name = f"{custom.name}_jvp_rule"
    if custom.jvps is not None:
        fn, trees = _jvps_rule(call, name), [call.tree(i) for i in custom.diff_argnums] * 2
        rule_name = name
    else:
        fn, positions = _renamed(custom.jvp, name, custom.nondiff_argnums)
        trees = [call.tree(p) for p in positions[:-2]] + [_diff_trees(call)] * 2
        rule_name = custom.jvp.__name__
    return structured.flatten(fn, trees, _jvp_returns(call, rule_name)).fn


def _jvps_rule(call, name):
    """``defjvps``: out = f(*primals); out_dot = sum(rule_i(t_i, out, *primals))."""
    custom = call.custom
    source = parse(custom.fun)
    n = len(custom.diff_argnums)
    primals, tangents = [f"_primal{i}" for i in range(n)], [f"_tangent{i}" for i in range(n)]
    bindings = {custom.name: custom}
    terms = []
    for i, rule in enumerate(custom.jvps):
        if rule is None:
            continue
        bindings[f"_rule{i}"] = rule
        terms.append(f"_rule{i}({tangents[i]}, ans, {', '.join(primals)})")
    text = (f"def {name}({', '.join(primals + tangents)}):\n"
            f"    ans = {custom.name}({', '.join(primals)})\n"
            f"    return ans, {' + '.join(terms) or '0.0'}\n")
    node = ast.parse(text).body[0]
    ast.increment_lineno(node, source.node.lineno - 1)
    return Synthetic(BoundSource(source.fn, node, source.filename, bindings), f"{name} (defjvps)")


def fwd_rule(call):
    """The flat fwd of a custom_vjp call: ``(*args) -> (*outs, *residual leaves)``."""
    return _once(("fwd", call), lambda: _build_fwd(call)).fn


def residuals(call):
    """The structure of the residuals the fwd rule of a custom_vjp call returns."""
    return _once(("fwd", call), lambda: _build_fwd(call)).out_tree.children[1]


def _build_fwd(call):
    custom = call.custom
    fwd = custom.fwd
    fn, positions = _renamed(fwd, f"{custom.name}_fwd", _positions(call))
    expected = out_tree(call)

    def returns(value, ret, source):
        out, res = _pair(value, ret, source, f"the fwd rule {fwd.__name__} of {custom.name} must return "
                         "a pair (primal output, residuals)")
        if expected is not None and T.structure(out) != expected:
            raise error_at(ret, source, f"the fwd rule {fwd.__name__} of {custom.name} must return the "
                           f"primal output with the structure {custom.name} returns, {expected!r}; "
                           f"got {T.structure(out)!r}")
        return T.structure(value), T.leaves(out) + T.leaves(res)
    return structured.flatten(fn, [call.tree(p) for p in positions], returns)


def bwd_rule(call):
    """The flat bwd of a custom_vjp call: ``(*nondiff, *residual leaves, *g leaves) -> (*cotangent leaves)``."""
    return _once(("bwd", call), lambda: _build_bwd(call))


def _build_bwd(call):
    custom = call.custom
    fn, positions = _renamed(custom.bwd, f"{custom.name}_bwd", custom.nondiff_argnums)
    expected = _diff_trees(call)
    n = len(expected.children)

    def returns(value, ret, source):
        message = "Custom VJP bwd rule must produce an output with the same container (pytree) " \
                  "structure as the args tuple of the primal function"
        if not (isinstance(value, T.Node) and value.type in (tuple, list) and len(value.children) == n):
            got = f"a tuple of length {len(value.children)}" if isinstance(value, T.Node) and \
                value.type in (tuple, list) else "a single value"
            raise error_at(ret, source, f"{message}, and in particular must produce a tuple of length equal "
                           f"to the number of arguments to the primal function, but got {got} for "
                           f"{custom.name} with {n} differentiable argument(s); return None for a zero cotangent")
        leaves = T.match(expected, T.Node(tuple, (), value.children), lambda: ast.Constant(0.0))
        if leaves is None:
            raise error_at(ret, source, f"{message}, but got {T.structure(value)!r} where {custom.name} "
                           f"takes {expected!r}; return None for a zero cotangent")
        return expected, leaves
    # the output cotangent has the structure of the primal output fwd gives
    fwd_out = _once(("fwd", call), lambda: _build_fwd(call)).out_tree.children[0]
    trees = [call.tree(p) for p in positions[:-2]] + [residuals(call), fwd_out]
    return structured.flatten(fn, trees, returns).fn


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
