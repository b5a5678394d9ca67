"""Every array rule and every elementwise rule on arrays, against central finite differences.

The elementwise walk covers ``sourcediff.rules.scalar.RULES`` applied to a
3x4 array and a broadcast 4-vector; ``array_rule_programs.CASES`` has one
function per array rule.  Both backends; ``jvp`` against ``grad`` too.
"""
import importlib.util
import math

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.rules import arrays
from sourcediff.rules.scalar import RULES

import array_rule_programs as programs

ELEMENTWISE = sorted(n for n, r in RULES.items() if r.differentiable and n not in arrays.NO_ARRAY_FORM
                     and n not in ("safe_log", "pos_inv", "float"))
# compiled too: the NumPy forms of the kinds of template (operators, math functions, max/min, powers)
ON_NUMBA = {"add", "mult", "div", "pow", "mod", "exp", "log", "tan", "arcsinh", "abs", "max", "arctan2",
            "hypot", "copysign", "logaddexp", "cbrt", "exp2", "fpow"}


LINEAR = {"sum", "sum_axis0", "sum_axis1", "mean", "mean_axis", "cumsum", "transpose_reshape", "ravel_copy",
          "concatenate", "stack", "trace", "slices", "slice_write", "in_place", "float32"}


def central_gradient(f, args, h=1e-6):
    out = []
    for i, arg in enumerate(args):
        arg = np.asarray(arg, dtype=np.float64)
        grad = np.zeros(arg.shape)
        for index in np.ndindex(arg.shape):
            up, down = [np.array(a, dtype=np.float64) if np.ndim(a) else float(a) for a in args], \
                [np.array(a, dtype=np.float64) if np.ndim(a) else float(a) for a in args]
            if arg.ndim:
                up[i][index] += h
                down[i][index] -= h
            else:
                up[i] += h
                down[i] -= h
            grad[index] = (f(*up) - f(*down)) / (2 * h)
        out.append(grad if arg.ndim else float(grad))
    return out


def check_gradient(f, args, backend, rtol=1e-6):
    argnums = tuple(range(len(args)))
    got = sd.grad(f, argnums=argnums, backend=backend)(*args)
    expected = central_gradient(f, args)
    for arg, g, e in zip(args, got, expected):
        assert np.shape(g) == np.shape(arg)
        if isinstance(arg, np.ndarray):
            assert g.dtype == arg.dtype
        scale = max(1.0, float(np.max(np.abs(e))))
        tol = 2e-3 if getattr(arg, "dtype", None) == np.float32 else rtol
        np.testing.assert_allclose(np.asarray(g, float), e, atol=tol * scale, rtol=tol)
    return got


@pytest.fixture(scope="module")
def elementwise_module(tmp_path_factory):
    path = tmp_path_factory.mktemp("array_rules") / "elementwise_functions.py"
    lines = ["import math", "import numpy as np", ""]
    for name in ELEMENTWISE:
        rule = RULES[name]
        params = ", ".join(rule.params)
        template = arrays.elementwise(rule.template)
        lines += [f"def on_arrays_{name}({params}):", f"    return np.sum(({template}) * np.cos(x))", ""]
    path.write_text("\n".join(lines))
    spec = importlib.util.spec_from_file_location("elementwise_functions", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def elementwise_args(rule, seed=0):
    """A 3x4 array for x and a 4-vector for the others, inside the rule's domain, off its kinks."""
    rng = np.random.default_rng(seed)
    lo, hi = rule.domain
    while True:
        values = [rng.uniform(lo, hi, (3, 4) if p == "x" else (4,)) for p in rule.params]
        env = dict(zip(rule.params, values), np=np, math=math)
        if all(np.all(np.abs(eval(arrays.elementwise(k), env)) > 0.05) for k in rule.kinks):
            return values


@pytest.mark.parametrize("name, backend", [(n, "python") for n in ELEMENTWISE] +
                         [(n, "numba") for n in ELEMENTWISE if n in ON_NUMBA])
def test_elementwise_rule_on_arrays(elementwise_module, name, backend):
    f = getattr(elementwise_module, f"on_arrays_{name}")
    args = elementwise_args(RULES[name])
    check_gradient(f, args, backend)


@pytest.mark.parametrize("backend", ["python", "numba"])
@pytest.mark.parametrize("name", sorted(programs.CASES))
def test_array_rule(name, backend):
    f, args = programs.CASES[name]
    grads = check_gradient(f, args, backend)
    if backend == "numba" and name in LINEAR:
        return          # its tangent is the same NumPy code on tangents, compiled already above
    rng = np.random.default_rng(1)
    tangents = [rng.normal(size=np.shape(a)).astype(getattr(a, "dtype", np.float64)) if np.ndim(a)
                else float(rng.normal()) for a in args]
    value, tangent = sd.jvp(f, args, tangents, backend=backend)
    assert value == pytest.approx(f(*args), rel=1e-6)
    expected = sum(float(np.sum(np.asarray(g, float) * t)) for g, t in zip(grads, tangents))
    assert tangent == pytest.approx(expected, rel=1e-5, abs=1e-6)


def test_every_array_rule_has_a_case():
    """A rule added to the table needs a function in array_rule_programs."""
    covered = {"sum", "sum_axis", "mean", "mean_axis", "prod", "max", "min", "cumsum", "dot", "matmul",
               "outer", "norm", "trace", "where", "clip", "transpose", "reshape", "ravel", "copy",
               "solve", "det", "inv", "expand_dims"}
    helpers = {name for name, rule in arrays.RULES.items() if rule.forward_only} | {"one_hot", "flat_item"}
    assert set(arrays.RULES) - helpers == covered


@pytest.mark.parametrize("backend", ["python", "numba"])
def test_jacobians_and_hessian_of_array_functions(backend):
    m, v = programs.M, programs.V
    jac = sd.jacfwd(programs.broadcasting_map, backend=backend)(m, v)
    assert jac.shape == (3, 4, 3, 4)
    np.testing.assert_allclose(sd.jacrev(programs.broadcasting_map, backend=backend)(m, v), jac, rtol=1e-12)
    eps = 1e-6
    e = np.zeros((3, 4))
    e[1, 2] = eps
    column = (programs.broadcasting_map(m + e, v) - programs.broadcasting_map(m - e, v)) / (2 * eps)
    np.testing.assert_allclose(jac[:, :, 1, 2], column, atol=1e-7)
    hess = sd.hessian(programs.sum_axis1, backend=backend)(m)
    assert hess.shape == (3, 4, 3, 4)
    grad = sd.grad(programs.sum_axis1, backend=backend)
    e = np.zeros((3, 4))
    e[2, 1] = eps
    np.testing.assert_allclose(hess[:, :, 2, 1], (grad(m + e) - grad(m - e)) / (2 * eps), atol=1e-6)
    np.testing.assert_allclose(hess.reshape(12, 12), hess.reshape(12, 12).T, atol=1e-12)
