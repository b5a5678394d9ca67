"""custom_jvp and custom_vjp: the seed examples, the rules spliced into generated code, the errors."""
import math
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import custom_programs as cp
import sourcediff as sd

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BACKENDS = ["python", "numba"]


def run_example(name, env=None):
    out = subprocess.run([sys.executable, os.path.join(ROOT, "examples", name)], capture_output=True,
                         text=True, env=dict(os.environ, **(env or {})), timeout=600)
    assert out.returncode == 0, out.stderr
    return out.stdout


def numbers(text):
    return [float(x) for x in re.findall(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|nan", text)]


# The values the seed documents print (float32 there, float64 here).
def test_example_log1pexp():
    out = run_example("custom_log1pexp.py").splitlines()
    assert numbers(out[0]) == [100, 1.0]
    for line in out[1:]:
        assert numbers(line.split(":", 1)[1]) == pytest.approx([100, 1, 3, 3.0485873, 3, 0.95257413, 0, 1, 2, 0.5, 0.7310586,
                                               0.8807971], rel=1e-7)


def test_example_stable_sqrt():
    assert numbers(run_example("custom_stable_sqrt.py")) == [0.0, 1.0, 1.0, 0.0, 4.0, 1.0, 2.0, 0.25, 0, 4, 0.0, 0.25]


def test_example_boundary():
    out = run_example("custom_boundary.py").split()
    assert out[0] == "nan" and out[1:] == ["1.0", "1.0"]


def test_example_clip_gradient():
    for line in run_example("custom_clip_gradient.py").splitlines():
        t, _, grad_sin, grad_clip = numbers(line)
        assert grad_sin == pytest.approx(math.cos(t), abs=1e-6)
        assert grad_clip == pytest.approx(min(max(math.cos(t), -0.75), 0.75), abs=1e-6)


def test_example_nondiff_argnums():
    assert numbers(run_example("custom_nondiff_argnums.py")) == [1.5, 9.0, 2.0, 9.0, 5.0]


def test_example_higher_order():
    out = numbers(run_example("custom_higher_order.py"))
    assert out[:4] == pytest.approx([2.7278922, 2.7278922, -1.2484405, -1.2484405], rel=1e-7)
    assert out[4:] == [3.0, 9.0, 27.0]


def test_example_debug_backward_runs_through_without_debugger():
    out = run_example("custom_debug_backward.py", {"PYTHONBREAKPOINT": "0"})
    assert float(out) == pytest.approx(6.0 * math.cos(9.0), rel=1e-14)     # d/dx sin(x ** 2) at 3


def test_breakpoint_in_bwd_stops_on_the_python_backend(monkeypatch):
    stops = []
    monkeypatch.setattr(sys, "breakpointhook", lambda *a, **k: stops.append(sys._getframe(1).f_code.co_name))
    assert sd.grad(cp.stop_here, backend="python")(2.0) == 3.0
    assert stops == ["stop_here_bwd"]
    stops.clear()
    assert sd.grad(cp.stop_here, backend="numba")(2.0) == 3.0      # compiled code cannot stop
    assert stops == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_transposed_rule_matches_the_rule(backend):
    rng = np.random.default_rng(1)
    r, theta = 1.3, 0.4
    for _ in range(3):
        v, w = rng.standard_normal(2), rng.standard_normal(2)
        (_, jv) = sd.jvp(cp.polar, (r, theta), tuple(v), backend=backend)
        _, vjp_fn = sd.vjp(cp.polar, r, theta, backend=backend)
        jt_w = vjp_fn(tuple(w))
        assert np.dot(jv, w) == pytest.approx(np.dot(v, jt_w), rel=1e-12)
    grad = sd.grad(cp.uses_polar, argnums=(0, 1), backend=backend)(r, theta)
    c, s = math.cos(theta), math.sin(theta)
    expected = (2 * r * c * s + c, r * r * (c * c - s * s) - r * s)
    assert grad == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_primal_comes_from_the_rule_only_under_differentiation(backend):
    assert cp.shifted(0.5) == math.sin(0.5)
    assert sd.jit(cp.shifted, backend=backend)(0.5) == math.sin(0.5)
    value, grad = sd.value_and_grad(cp.shifted, backend=backend)(0.5)
    assert value == pytest.approx(math.sin(0.5) + 1.0) and grad == pytest.approx(math.cos(0.5))
    assert sd.jvp(cp.shifted, (0.5,), (2.0,), backend=backend) == pytest.approx(
        (math.sin(0.5) + 1.0, 2 * math.cos(0.5)))


def finite_difference(f, x, h=1e-6):
    return (f(x + h) - f(x - h)) / (2 * h)


@pytest.mark.parametrize("backend", BACKENDS)
def test_rules_inside_loops_and_branches(backend):
    for x in (0.3, 0.9):
        expected = finite_difference(lambda v: cp.loop_and_branch(v, 12), x)
        assert sd.grad(cp.loop_and_branch, backend=backend)(x, 12) == pytest.approx(expected, rel=1e-7)
    with pytest.raises(TypeError, match="can't apply forward-mode"):     # it calls a custom_vjp function
        sd.jvp(cp.loop_and_branch, (0.3, 12), (1.0, 0), backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_custom_function_calling_custom_function(backend):
    expected = 2.0 / (1.0 + math.exp(-0.7))
    assert sd.grad(cp.outer, backend=backend)(0.7) == pytest.approx(expected, rel=1e-14)
    second = sd.grad(sd.grad(cp.outer, backend=backend), backend=backend)(0.7)
    assert second == pytest.approx(2.0 * math.exp(-0.7) / (1.0 + math.exp(-0.7)) ** 2, rel=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_residuals_of_several_kinds_and_keyword_arguments(backend):
    assert sd.grad(cp.keywords, backend=backend)(1.5) == 2.0
    assert sd.grad(cp.keywords, backend=backend)(1.5, y=4.0) == 4.0
    assert sd.grad(cp.scaled, argnums=(0, 1), backend=backend)(1.5, 3.0) == (3.0, 0.0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_fwd_without_residuals(backend):
    grad = sd.grad(lambda x, y: cp.clip_gradient(math.sin(x)) * y, argnums=(0, 1), backend=backend)
    assert grad(0.5, 2.0) == (0.75 * math.cos(0.5), math.sin(0.5))


@pytest.mark.parametrize("backend", BACKENDS)
def test_defjvps_with_none_and_nondiff_argnums(backend):
    assert sd.grad(cp.two_rules, argnums=(0, 1), backend=backend)(2.0, 5.0) == (5.0, 0.0)
    assert sd.jvp(cp.two_rules, (2.0, 5.0), (1.0, 1.0), backend=backend) == (10.0, 5.0)
    cp.with_nondiff.defjvp(lambda n, primals, tangents: (cp.with_nondiff(n, primals[0]),
                                                         n * primals[0] ** (n - 1) * tangents[0]))
    assert sd.grad(lambda x: cp.with_nondiff(3, x), backend=backend)(2.0) == 12.0


def test_errors_name_the_rule_and_function():
    with pytest.raises(AttributeError, match="No JVP defined for custom_jvp function no_rule using defjvp."):
        sd.grad(cp.no_rule)(1.0)
    with pytest.raises(AttributeError, match="No VJP defined for custom_vjp function no_vjp using defvjp."):
        sd.grad(cp.no_vjp)(1.0)
    assert sd.jit(cp.no_rule)(1.5) == 1.5          # no rule is needed to run the body
    with pytest.raises(TypeError, match="Custom JVP rule not_a_pair_jvp for function not_a_pair must produce a pair"):
        sd.grad(cp.not_a_pair)(1.0)
    with pytest.raises(TypeError, match="Custom VJP bwd rule must produce an output with the same container "
                                        r"\(pytree\) structure as the args tuple of the primal function"):
        sd.grad(cp.bad_bwd)(1.0, 2.0)
    with pytest.raises(TypeError, match=r"can't apply forward-mode autodiff \(jvp\) to a custom_vjp function."):
        sd.jvp(cp.scaled, (1.0, 2.0), (1.0, 0.0))
    with pytest.raises(TypeError, match="Can't use ``defjvps`` with ``nondiff_argnums``."):
        cp.with_nondiff.defjvps(None, None)


def test_generated_source_shows_the_rule():
    g = sd.grad(cp.softplus, backend="python")
    g(0.5)
    assert "def softplus_jvp_rule_vjp(" in g.source and "t_bar = " in g.source


def test_example_fixed_point_gives_the_seeds_values():
    """sd.vjp and a lambda inside the bwd rule, partial of a nondiff function; grad(grad)
    differentiates the bwd rule. Closed forms: d/da sqrt(a) and d2/da2 sqrt(a) at 2."""
    out = [float(v) for v in run_example("custom_fixed_point.py").split()]
    assert out[0] == pytest.approx(math.sqrt(2.0), rel=1e-12)
    assert out[1] == pytest.approx(0.5 / math.sqrt(2.0), rel=1e-6)
    assert out[2] == pytest.approx(-0.25 * 2.0 ** -1.5, rel=1e-5)
