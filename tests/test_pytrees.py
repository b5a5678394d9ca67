"""Pytrees (tuples, lists, dicts, namedtuples, nested, None) through every transform and custom rule."""
import math
import os

import numpy as np
import pytest

import pytree_programs as pp
import sourcediff as sd
from pytree_programs import Params, Point
from sourcediff import pytree
from test_custom import numbers, run_example

BACKENDS = ["python", "numba"]
HERE = os.path.join(os.path.dirname(__file__), "pytree_programs.py")


def line_of(text):
    with open(HERE) as f:
        return next(n for n, line in enumerate(f, 1) if text in line)


def finite_difference(f, x, h=1e-6):
    return (f(x + h) - f(x - h)) / (2 * h)


def test_example_pytrees():
    """The seed's output: a dict of a number and a tuple, the gradient a Point, by both rules."""
    out = run_example("custom_pytrees.py").splitlines()
    value = [1.0, 0.84147096, -0.41614684]
    grad = [2.5403023, 0.0]
    assert out[0].startswith("{'a': ") and out[1].startswith("Point(x=")
    assert numbers(out[0]) == pytest.approx(value) and numbers(out[2]) == pytest.approx(value)
    assert numbers(out[1]) == pytest.approx(grad) and numbers(out[3]) == pytest.approx(grad)


def test_flatten_and_unflatten():
    value = {"b": (1.0, [2, None]), "a": Point(3.0, {"z": 4.0})}
    leaves, tree = pytree.flatten(value)
    assert leaves == [3.0, 4.0, 1.0, 2]              # dict keys sorted, as in JAX
    assert pytree.unflatten(tree, leaves) == value
    assert pytree.paths(tree) == ["['a'].x", "['a'].y['z']", "['b'][0]", "['b'][1][0]"]
    assert repr(tree) == "{'a': Point(x=*, y={'z': *}), 'b': (*, [*, None])}"
    with pytest.raises(TypeError, match="dict keys of a pytree must be strings; got 1"):
        pytree.flatten({1: 2.0})


@pytest.mark.parametrize("backend", BACKENDS)
def test_grad_restores_the_argument_structure(backend):
    g = sd.grad(pp.norm2, backend=backend)(Point(3.0, 4.0))
    assert type(g) is Point and g == (6.0, 8.0)
    grads = sd.grad(pp.nested, backend=backend)(((1.0, 2.0), {"k": 3.0}))
    assert grads == ((6.0, 4.0), {"k": 2.0})
    assert sd.grad(pp.listy, backend=backend)([1.0, 2.0, 3.0]) == [2.0, 1.0, 1.0]


@pytest.mark.parametrize("backend", BACKENDS)
def test_none_leaves_stay_none_and_int_leaves_are_inactive(backend):
    g = sd.grad(pp.with_none, backend=backend)({"v": 1.5, "n": 2, "z": None})
    assert g == {"n": 0.0, "v": 2.0, "z": None} and list(g) == ["n", "v", "z"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_gradient_of_a_dict_matches_finite_differences(backend):
    params, data = {"w": 0.7, "b": -0.2}, {"n": 6, "y": 0.4}
    g = sd.grad(pp.loss, backend=backend)(params, data)
    assert set(g) == {"w", "b"}
    for key in g:
        fd = finite_difference(lambda v: pp.loss(dict(params, **{key: v}), data), params[key])
        assert g[key] == pytest.approx(fd, rel=1e-7)


@pytest.mark.parametrize("backend", BACKENDS)
def test_helpers_taking_and_returning_namedtuples(backend):
    p, angle = Point(1.0, 2.0), 0.3
    gp, ga = sd.grad(pp.uses_rotate, argnums=(0, 1), backend=backend)(p, angle)
    assert type(gp) is Point
    fx = finite_difference(lambda v: pp.uses_rotate(Point(v, 2.0), angle), 1.0)
    fy = finite_difference(lambda v: pp.uses_rotate(Point(1.0, v), angle), 2.0)
    fa = finite_difference(lambda v: pp.uses_rotate(p, v), angle)
    assert (gp.x, gp.y, ga) == pytest.approx((fx, fy, fa), rel=1e-7)
    g = sd.grad(pp.uses_rotate, backend=backend)
    g(p, angle)
    assert "def rotate(p_x, p_y, angle):" in g.source and "q_x, q_y = rotate(p_x, p_y, angle)" in g.source


@pytest.mark.parametrize("backend", BACKENDS)
def test_structures_built_in_the_function(backend):
    assert sd.grad(pp.carried_state, backend=backend)(1.0, 5) == 1.9375      # 1 + 1/2 + ... + 1/16
    assert sd.jit(pp.build_dict, backend=backend)(2.0, 3.0) == {"a": 7.0, "b": (2.0, 3.0)}
    jac = sd.jacfwd(pp.build_dict, argnums=(0, 1), backend=backend)(2.0, 3.0)
    assert jac == {"a": (3.0, 2.0), "b": ((1.0, 0.0), (0.0, 1.0))}
    assert sd.jacrev(pp.build_dict, backend=backend)(2.0, 3.0) == {"a": 3.0, "b": (1.0, 0.0)}
    assert sd.grad(pp.weighted, backend=backend)(1.0) == 4.5           # a global tuple of constants
    assert sd.grad(pp.uses_optional, backend=backend)(1.0) == 4.0      # a None default
    assert sd.grad(pp.frozen, backend=backend)(Point(2.0, 3.0)) == (0.0, 2.0)
    assert sd.grad(pp.recursive_with_dict, argnums=1, backend=backend)(3, 2.0) == 12.0
    assert sd.grad(pp.two_structures, argnums=(0, 1), backend=backend)((1.0, 2.0), 3.0) == ((2.0, 4.0), 30.0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_value_and_grad_with_pytree_aux(backend):
    p = Point(2.0, 3.0)
    aux = {"count": 3, "nothing": None, "square": 36.0}
    (value, got_aux), g = sd.value_and_grad(pp.value_and_aux, has_aux=True, backend=backend)(p)
    assert value == 6.0 and got_aux == aux and g == Point(3.0, 2.0)
    assert sd.grad(pp.value_and_aux, has_aux=True, backend=backend)(p) == (Point(3.0, 2.0), aux)


@pytest.mark.parametrize("backend", BACKENDS)
def test_jvp_with_pytree_primals_tangents_and_outputs(backend):
    params, x = Params(0.5, -0.25), 1.5
    out, tangent = sd.jvp(pp.model, (params, x), (Params(1.0, 0.0), 0.0), backend=backend)
    layer = 0.5 * 1.5 - 0.25
    assert out == pytest.approx({"out": math.tanh(layer), "pre": layer})
    assert tangent == pytest.approx({"out": x / math.cosh(layer) ** 2, "pre": x})
    with pytest.raises(TypeError, match=r"jvp: primal and tangent arguments must have the same pytree "
                                        r"structure; primal 0 is Params\(w=\*, b=\*\), its tangent \(\*, \*\)"):
        sd.jvp(pp.model, (params, x), ((1.0, 0.0), 0.0), backend=backend)
    out, tangent = sd.jvp(pp.with_none, ({"v": 1.5, "n": 2, "z": None},), ({"v": 1.0, "n": 0, "z": None},),
                          backend=backend)
    assert (out, tangent) == (3.0, 2.0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_vjp_with_pytree_outputs_and_cotangents(backend):
    params, x = Params(0.5, -0.25), 1.5
    out, vjp_fn = sd.vjp(pp.model, params, x, backend=backend)
    layer = 0.5 * 1.5 - 0.25
    assert out == pytest.approx({"out": math.tanh(layer), "pre": layer})
    ct_params, ct_x = vjp_fn({"out": 1.0, "pre": 2.0})
    dtanh = 1.0 / math.cosh(layer) ** 2
    assert type(ct_params) is Params
    assert ct_params == pytest.approx(((dtanh + 2.0) * x, dtanh + 2.0))
    assert ct_x == pytest.approx((dtanh + 2.0) * 0.5)
    with pytest.raises(TypeError, match=r"vjp_fn: the cotangent must have the structure of the output"):
        vjp_fn((1.0, 2.0))
    value, vjp_fn, aux = sd.vjp(pp.value_and_aux, Point(2.0, 3.0), has_aux=True, backend=backend)
    assert (value, aux["square"]) == (6.0, 36.0) and vjp_fn(1.0) == (Point(3.0, 2.0),)


@pytest.mark.parametrize("backend", BACKENDS)
def test_jacobians_and_hessian_of_pytrees(backend):
    jac = sd.jacfwd(pp.model, backend=backend)(Params(0.5, -0.25), 1.5)
    assert set(jac) == {"out", "pre"} and type(jac["pre"]) is Params and jac["pre"] == (1.5, 1.0)
    rev = sd.jacrev(pp.model, backend=backend)(Params(0.5, -0.25), 1.5)
    np.testing.assert_allclose(rev["out"], jac["out"], rtol=1e-14)
    h = sd.hessian(pp.norm2, backend=backend)(Point(3.0, 4.0))
    assert h == Point(Point(2.0, 0.0), Point(0.0, 2.0))


@pytest.mark.parametrize("backend", BACKENDS)
def test_jit_keeps_each_structure_its_own_specialisation(backend):
    f = sd.jit(pp.norm_of_pair, backend=backend)
    assert f((3.0, 4.0)) == 25.0 and f([3.0, 4.0]) == 25.0 and f(Point(3.0, 4.0)) == 25.0
    assert f((3, 4)) == 25
    assert len(f._entries) == 4


@pytest.mark.parametrize("backend", BACKENDS)
def test_int_leaves_of_outputs_get_zero_tangents(backend):
    out, tangent = sd.jvp(pp.counts, ({"x": 1.5, "n": 3},), ({"x": 2.0, "n": 0},), backend=backend)
    assert out == {"n": 3, "value": 4.5} and tangent == {"n": 0.0, "value": 6.0}


@pytest.mark.parametrize("backend", BACKENDS)
def test_lists_are_changed_in_place_tuples_not(backend):
    assert sd.grad(pp.edits_list, backend=backend)([2.0, 5.0]) == [5.0, 2.0]     # d(x0 * x1 + 2)
    with pytest.raises(sd.TransformError, match="tuples cannot be changed; build a new one"):
        sd.grad(pp.changes_tuple, backend=backend)((2.0, 3.0))


@pytest.mark.parametrize("backend", BACKENDS)
def test_array_leaves_and_numpy_functions(backend):
    params, x = Params(np.array([0.5, -1.0, 2.0]), 0.25), np.array([1.0, 2.0, 3.0])
    g = sd.grad(pp.linear, backend=backend)(params, x)
    y = np.sum(params.w * x) + params.b
    assert type(g) is Params
    np.testing.assert_allclose(g.w, 2 * y * x, rtol=1e-14)
    assert g.b == pytest.approx(2 * y, rel=1e-14)
    g = sd.grad(pp.stacked, backend=backend)(Point(2.0, 3.0))      # a list display for np.array
    assert g == pytest.approx((2 * 2.0 + 2 * 6.0 * 3.0, 2 * 3.0 + 2 * 6.0 * 2.0))


# ---------------------------------------------------------------- custom rules

@pytest.mark.parametrize("backend", BACKENDS)
def test_custom_vjp_with_pytree_residuals_and_none_cotangents(backend):
    p, c = Point(1.0, 2.0), {"k": 3.0}
    assert sd.grad(pp.uses_scale, backend=backend)(p, c) == Point(18.0, 9.0)     # d(9xy)
    assert sd.grad(pp.uses_scale, argnums=1, backend=backend)(p, c) == {"k": 0.0}  # bwd said None
    assert sd.grad(pp.half_known, backend=backend)({"x": 2.0, "y": 5.0}) == {"x": 5.0, "y": 0.0}
    out, vjp_fn = sd.vjp(pp.scale, p, c, backend=backend)
    assert out == Point(3.0, 6.0) and vjp_fn(Point(1.0, 0.0)) == (Point(3.0, 0.0), {"k": 0.0})


@pytest.mark.parametrize("backend", BACKENDS)
def test_custom_jvp_with_pytree_primals_and_outputs(backend):
    assert sd.grad(pp.uses_apply_both, backend=backend)(Point(1.0, 2.0)) == Point(2.0, 2.0)
    p = {"r": 2.0, "theta": 0.5}
    jac = sd.jacfwd(pp.polar, backend=backend)(p)
    c, s = math.cos(0.5), math.sin(0.5)
    assert type(jac) is Point and jac.x == pytest.approx({"r": c, "theta": -2.0 * s})
    rev = sd.jacrev(pp.polar, backend=backend)(p)      # the rule, transposed
    assert rev.y == pytest.approx({"r": s, "theta": 2.0 * c})


def test_generated_rules_take_and_return_leaves():
    g = sd.grad(pp.uses_scale, backend="python")
    g(Point(1.0, 2.0), {"k": 3.0})
    assert "def scale_fwd(p_x, p_y, c_k):" in g.source
    assert "def scale_bwd(res_k, res_two, g_x, g_y):" in g.source


# ---------------------------------------------------------------- errors

def check(error, code, *phrases):
    assert isinstance(error.value, sd.TransformError)
    assert error.value.filename == HERE and error.value.lineno == line_of(code)
    for phrase in (code,) + phrases:
        assert phrase in str(error.value)


def test_bwd_with_another_structure_than_the_arguments():
    with pytest.raises(TypeError) as e:
        sd.grad(pp.wrong_bwd)(Point(1.0, 2.0))
    check(e, "return ((g * p.y, g * p.x),)", "Custom VJP bwd rule must produce an output with the same "
          "container (pytree) structure as the args tuple of the primal function",
          "got ((*, *),) where wrong_bwd takes (Point(x=*, y=*),)")


def test_jvp_rule_with_tangents_of_another_structure():
    with pytest.raises(TypeError) as e:
        sd.grad(lambda p: pp.wrong_tangent(p)[0])(Point(1.0, 2.0))
    check(e, "return (p.x, p.y), t.x", "Custom JVP rule wrong_tangent_jvp for function wrong_tangent must "
          "produce primal and tangent outputs with equal container (pytree) structures, but got (*, *) and *")


@pytest.mark.parametrize("fn, args, code, phrase", [
    (pp.dynamic_key, ({"a": 1.0}, 0), "return d[k]", "`d` is a pytree {'a': *}; index it with a constant"),
    (pp.attribute_of_dict, ({"a": 1.0},), "return d.a", "it has no attribute `.a`: use its leaves, e.g. `d['a']`"),
    (pp.changing_structure, (1.0, True), "v = (x, x, x)", "`v` holds pytrees of different structures"),
    (pp.call_in_loop_test, (1.0,), "while pair(x)[0] < 10.0:", "`pair(x)` returns a pytree; assign it"),
    (pp.arithmetic_on_points, (Point(1.0, 2.0), Point(3.0, 4.0)), "return (p + q)[0]",
     "`p` is a pytree Point(x=*, y=*); a number or an array is expected here: use its leaves, e.g. `p.x`"),
    (pp.build_dict, (1.0, 2.0), "return d", "grad requires a scalar float output; build_dict returns a pytree"),
])
def test_unsupported_uses_name_the_line(fn, args, code, phrase):
    with pytest.raises(sd.TransformError) as e:
        sd.grad(fn, backend="python")(*args)
    check(e, code, phrase)


def test_arguments_that_cannot_be_differentiated():
    with pytest.raises(sd.TransformError, match=r"argument `p.x` of norm2 is int"):
        sd.grad(pp.norm2)(Point(1, 2))
    with pytest.raises(TypeError, match=r"norm2_grad: argument `p.y` is str"):
        sd.grad(pp.norm2)(Point(1.0, "2"))
    with pytest.raises(TypeError, match=r"norm2_grad: argument `p`: dict keys of a pytree must be strings"):
        sd.grad(pp.norm2)({0: 1.0})
    with pytest.raises(TypeError, match=r"with_none_grad: argument `p\['n'\]` is an int that does not fit"):
        sd.grad(pp.with_none, backend="numba")({"v": 1.5, "n": 2 ** 70, "z": None})
    with pytest.raises(TypeError, match=r"weighted_grad: argument `x` is tuple; expected a float, int, "
                                        r"bool or NumPy array of them; convert it with np.asarray\(x\)"):
        sd.grad(pp.weighted)((1.0, 2.0))
