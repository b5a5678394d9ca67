"""Every rule of the table, checked against central finite differences.

The test walks ``sourcediff.rules.scalar.RULES``: a rule added to the table
is tested here without a new test.  For each rule a module is written with
one function applying it, and its ``grad`` and ``jvp`` (both backends) are
compared with finite differences of the primal at sampled points.
"""
import importlib.util
import math

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.rules import runtime as _rt
from sourcediff.rules.scalar import RULES

from sourcediff.rules.scalar import INTEGER_ONLY

DIFFERENTIABLE = sorted(n for n, r in RULES.items() if r.differentiable)
# Rules of numbers whose derivative is zero: floor, round, stop_gradient, ...
CONSTANT = sorted(n for n, r in RULES.items() if not r.differentiable and r.result != "bool"
                  and n not in INTEGER_ONLY and n != "trip_count")


@pytest.fixture(scope="module")
def rule_module(tmp_path_factory):
    path = tmp_path_factory.mktemp("rules") / "rule_functions.py"
    lines = ["import math", "import numpy as np", "from sourcediff.rules import runtime as _rt", ""]
    for name in DIFFERENTIABLE:
        rule = RULES[name]
        lines += [f"def rule_{name}({', '.join(rule.params)}):", f"    return {rule.template}", ""]
    for name in CONSTANT:
        rule = RULES[name]
        lines += [f"def constant_{name}({', '.join(rule.params)}):",
                  f"    return x * 2.0 + float({rule.template})", ""]
    path.write_text("\n".join(lines))
    spec = importlib.util.spec_from_file_location("rule_functions", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sample_points(rule, count=3, seed=0):
    rng = np.random.default_rng(seed)
    lo, hi = rule.domain
    points = []
    while len(points) < count:
        point = dict(zip(rule.params, rng.uniform(lo, hi, len(rule.params))))
        env = dict(point, math=math, np=np, _rt=_rt)
        if all(abs(eval(k, env)) > 0.05 for k in rule.kinks):
            points.append(tuple(point[p] for p in rule.params))
    return points


def central_difference(f, args, i, h=1e-6):
    up, down = list(args), list(args)
    up[i] += h
    down[i] -= h
    return (f(*up) - f(*down)) / (2 * h)


@pytest.mark.parametrize("backend", ["python", "numba"])
@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_rule_against_finite_differences(rule_module, name, backend):
    rule = RULES[name]
    f = getattr(rule_module, f"rule_{name}")
    argnums = tuple(range(len(rule.params)))
    grad = sd.grad(f, argnums=argnums, backend=backend)
    for args in sample_points(rule):
        expected = [central_difference(f, args, i) if rule.partials[i] is not None else 0.0
                    for i in argnums]
        got = grad(*args)
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7, err_msg=f"{name} at {args}")
        tangents = tuple(np.linspace(0.5, 1.5, len(args)))
        value, tangent = sd.jvp(f, args, tangents, backend=backend)
        assert value == pytest.approx(f(*args), rel=1e-14)
        assert tangent == pytest.approx(float(np.dot(expected, tangents)), rel=1e-6, abs=1e-7)


def test_every_rule_has_one_partial_per_parameter():
    for name, rule in RULES.items():
        assert len(rule.partials) == len(rule.params), name


@pytest.mark.parametrize("name", CONSTANT)
def test_rules_with_zero_derivative(rule_module, name):
    rule = RULES[name]
    f = getattr(rule_module, f"constant_{name}")
    args = sample_points(rule, count=1)[0]
    if name == "round_digits":        # round(x, ndigits): ndigits is an int
        args = (args[0], 2)
    floats = tuple(i for i, a in enumerate(args) if isinstance(a, float))
    grads = sd.grad(f, argnums=floats, backend="python")(*args)
    assert grads == (2.0,) + (0.0,) * (len(floats) - 1)
