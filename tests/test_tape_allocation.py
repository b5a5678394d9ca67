"""Where tapes are allocated (``reverse_forward``).  A function's top-level loops that push
onto the same tape get their room in one allocation where the later loops' lengths can be
computed before the first (``reserve_ahead``): growing the tape loop by loop copies it each
time.  A recursion that keeps only numbers runs split (``Reverse.split_functions``) on its
caller's tapes; another one allocates a tape used only in one branch of a test there
(``tapes_where_used``), so its base case allocates nothing.  A nested loop's room is made
before the enclosing loop where nothing its length reads changes in it.  Gradients against central differences and closed
forms, how often the tape grows, and the code."""
import math

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.gradbench import det
from sourcediff.gradbench.lse import logsumexp as two_loops     # a max loop, then a sum of exps
from sourcediff.rules import runtime


def counted_then_looped(x):
    largest = x[0]
    m = 0
    for i in range(1, x.shape[0]):
        largest = max(largest, x[i])
        if x[i] > 0.0:
            m += 1
    total = 0.0
    for i in range(m):
        total += math.exp(x[i] - largest)
    return total


def length_changed_between(x):
    k = x.shape[0]
    largest = x[0]
    for i in range(1, k):
        largest = max(largest, x[i])
    k = k - 1
    total = 0.0
    for i in range(k):
        total += math.exp(x[i] - largest)
    return total


def central(f, x, h=1e-6):
    return np.array([(f(x + h * e) - f(x - h * e)) / (2 * h) for e in np.eye(x.shape[0])])


X = np.array([0.4, -0.3, 0.8, 0.1, 0.6, -0.2, 0.5])


@pytest.fixture
def growths(monkeypatch):
    """The tape growths (old size, new size) of the calls made while the test runs."""
    seen = []
    reserve = runtime.reserve

    def counting(tape, needed):
        grown = reserve(tape, needed)
        if grown is not tape:
            seen.append((tape.shape[0], grown.shape[0]))
        return grown
    monkeypatch.setattr(runtime, "reserve", counting)
    return seen


def test_two_loops_take_their_room_at_once(growths):
    grad = sd.grad(two_loops, backend="python")
    np.testing.assert_allclose(grad(X), central(two_loops, X), rtol=1e-6, atol=1e-9)
    assert growths == [(0, 2 * X.shape[0] - 1)], grad.source


def test_a_length_a_loop_counts_is_reserved_after_that_loop(growths):
    grad = sd.grad(counted_then_looped, backend="python")
    np.testing.assert_allclose(grad(X), central(counted_then_looped, X), rtol=1e-6, atol=1e-9)
    assert len(growths) == 2, grad.source


def test_a_length_rebound_between_is_reserved_where_it_is_known(growths):
    grad = sd.grad(length_changed_between, backend="python")
    np.testing.assert_allclose(grad(X), central(length_changed_between, X), rtol=1e-6, atol=1e-9)
    assert len(growths) == 2, grad.source


def polynomial_fit(x, n):
    """llsq's loops: the inner loop's length is read into a temporary in the outer body."""
    total = 0.0
    for i in range(n):
        t = -1.0 + i * 2.0 / (n - 1)
        residual = math.sin(3.0 * t)
        power = 1.0
        for j in range(x.shape[0]):
            residual -= x[j] * power
            power *= t
        total += residual * residual
    return total


def triangle_sweeps(x):
    """An inner loop's length computed in the outermost loop's body, two loops out."""
    total = 0.0
    for a in range(3):
        m = a + 1
        for b in range(2):
            for c in range(m):
                total = math.sin(total + x[0] * c + x[1] * b)
    return total


def rebound_after(x):
    """The inner loop's length is bound once in the outer body, but after the inner loop: the
    first sweep runs with the length from before the loop."""
    total = 0.0
    m = 5
    for a in range(3):
        for c in range(m):
            total = math.sin(total + x[0] * c)
        m = 2
    return total


@pytest.mark.parametrize("backend", ["python", "numba"])
def test_a_length_bound_after_the_inner_loop_is_not_taken_as_known_before_it(backend):
    grad = sd.grad(rebound_after, backend=backend)
    x = np.array([0.3])
    np.testing.assert_allclose(grad(x), central(rebound_after, x), rtol=1e-6, atol=1e-9)
    assert "max(2, 0) * 3" not in grad.source, grad.source


def test_an_inner_length_the_outer_loop_does_not_change_is_reserved_before_it(growths):
    grad = sd.grad(polynomial_fit, backend="python")
    f = lambda v: polynomial_fit(v, 9)                       # noqa: E731
    np.testing.assert_allclose(grad(X, 9), central(f, X), rtol=1e-6, atol=1e-9)
    assert growths == [(0, 9 * (1 + X.shape[0]))], grad.source
    assert "_rt.reserve(_ftape, _fp + (1 + max(x.shape[0], 0)) * n)" in grad.source


@pytest.mark.parametrize("backend", ["python", "numba"])
def test_an_inner_length_the_outer_loop_computes_is_reserved_inside_it(backend):
    grad = sd.grad(triangle_sweeps, backend=backend)
    x = np.array([0.3, -0.2])
    np.testing.assert_allclose(grad(x), central(triangle_sweeps, x), rtol=1e-6, atol=1e-9)
    assert "    for a in range(3):\n        m = a + 1\n        if _fp + max(m, 0) * 2 > _ftape.shape[0]:" \
        in grad.source, grad.source


def test_compiled_two_loops_match_python():
    x = np.random.RandomState(0).rand(1000)
    np.testing.assert_allclose(sd.grad(two_loops)(x), sd.grad(two_loops, backend="python")(x), rtol=1e-12)


def power_sum(x, k):
    """x[0]**k + ... by recursion on k, a loop in the general case only."""
    if k == 0:
        return 0.0
    total = 0.0
    for i in range(x.shape[0]):
        total += math.sin(x[i] * total + 1.0)
    return total * power_sum(x, k - 1)


def halved_power_sum(x, k):
    """power_sum with a local array: its recursion is reversed in joint mode."""
    if k == 0:
        return 0.0
    y = x * 0.5
    total = 0.0
    for i in range(y.shape[0]):
        total += math.sin(y[i] * total + 1.0)
    return total * halved_power_sum(x, k - 1)


@pytest.mark.parametrize("backend", ["python", "numba"])
def test_a_recursion_runs_split_on_its_callers_tapes(backend):
    a = np.array([2.0, 1.0, 0.5, 1.0, 3.0, 0.2, 0.4, 0.1, 1.5])
    grad = sd.grad(det.det, backend=backend)
    matrix = a.reshape(3, 3)
    np.testing.assert_allclose(grad(a, 3), np.linalg.det(matrix) * np.linalg.inv(matrix).T.ravel(), rtol=1e-12)
    halves = grad.source[grad.source.index("def det_of_minor_fwd"):].split("\n\n\n")[:2]
    assert "def det_of_minor_bwd(" in halves[1] and "det_of_minor_vjp" not in grad.source, grad.source
    assert all("np.empty(" not in half for half in halves), halves
    x = np.array([0.3, -0.5, 0.8])
    power = sd.grad(power_sum, backend=backend)
    np.testing.assert_allclose(power(x, 3), central(lambda v: power_sum(v, 3), x), rtol=1e-6, atol=1e-9)
    assert "def power_sum_fwd(" in power.source, power.source


@pytest.mark.parametrize("backend", ["python", "numba"])
def test_a_tape_used_only_in_the_general_case_is_allocated_there(backend):
    x = np.array([0.3, -0.5, 0.8])
    grad = sd.grad(halved_power_sum, backend=backend)
    np.testing.assert_allclose(grad(x, 3), central(lambda v: halved_power_sum(v, 3), x), rtol=1e-6, atol=1e-9)
    vjp = grad.source[grad.source.index("def halved_power_sum_vjp"):].split("\n\n\n")[0]
    base, general = vjp.split("    else:\n", 1)
    assert "np.empty(" not in base and "_ftape = np.empty(0)" in general, vjp


def _swap_sum(x, order, k):
    """Sums x[order[j]] ** 2 weighted by powers of 1/2 while moving each picked index to the front."""
    if k == 0:
        return 0.0
    i = order[k - 1]
    order[k - 1] = order[0]
    order[0] = i
    return x[i] * x[i] + 0.5 * _swap_sum(x, order, k - 1)


def swap_sum(x, order):
    return _swap_sum(x, order, order.shape[0])


@pytest.mark.parametrize("backend", ["python", "numba"])
def test_split_calls_run_again_on_longer_tapes_with_their_arrays_written_back(backend):
    """The first call finds the tapes too short and runs again after writing ``order`` back;
    later calls, larger and smaller, reuse the room it remembered."""
    grad = sd.grad(swap_sum, backend=backend)
    rng = np.random.RandomState(3)
    for n in (3, 40, 5, 40):
        x = rng.rand(n)
        order = rng.permutation(n)
        kept = order.copy()
        expected = central(lambda v: swap_sum(v, kept.copy()), x)
        np.testing.assert_allclose(grad(x, order), expected, rtol=1e-6, atol=1e-9)
        python_order = kept.copy()
        sd.grad(swap_sum, backend="python")(x, python_order)
        np.testing.assert_array_equal(order, python_order)
    assert "def _swap_sum_fwd(" in grad.source, grad.source
    a = rng.rand(25)
    for ell in (3, 5, 4):
        matrix = a[:ell * ell].reshape(ell, ell)
        np.testing.assert_allclose(sd.grad(det.det, backend=backend)(a[:ell * ell].copy(), ell),
                                   np.linalg.det(matrix) * np.linalg.inv(matrix).T.ravel(), rtol=1e-10)


def test_long_tapes_of_split_calls_are_kept_for_the_next_call(monkeypatch):
    """Fresh pages cost the operating system a clearing each; a long tape is kept instead."""
    monkeypatch.setattr(runtime, "LARGE_TAPE", 8)
    monkeypatch.setattr(runtime, "_kept", {})
    grad = sd.grad(det.det, backend="python")
    a = np.arange(16.0) ** 0.5
    first = grad(a, 4)
    kept = dict(runtime._kept)
    assert set(kept) == {"det_ftape", "det_itape"}, kept
    np.testing.assert_allclose(grad(a, 4), first, rtol=1e-14)
    assert all(runtime._kept[key] is tape for key, tape in kept.items())
    matrix = a.reshape(4, 4)
    np.testing.assert_allclose(first, np.linalg.det(matrix) * np.linalg.inv(matrix).T.ravel(), rtol=1e-10)
