"""Dead-code elimination of generated functions (``sourcediff/dead_code.py``): what it removes,
what it must keep, and what it removes from the code of a real gradient."""
import ast
import math
import textwrap

import numpy as np

import sourcediff as sd
from sourcediff.dead_code import prune
from sourcediff.gradbench import ode


def pruned(source):
    fn = ast.parse(textwrap.dedent(source)).body[0]
    return ast.unparse(prune(fn))


def test_unread_values_and_writes_into_arrays_whose_elements_nothing_reads_go():
    assert pruned("""
        def f(x, n):
            t = x * 2.0
            b = np.empty(n)
            for i in range(n):
                b[i] = x * i
            c = np.zeros_like(b)
            c[0] = x
            s = 0.0
            s += math.sin(x)
            for i in range(n - 1, -1, -1):
                c[i] += 1.0
            return c
        """) == textwrap.dedent("""\
        def f(x, n):
            b = np.empty(n)
            c = np.zeros_like(b)
            c[0] = x
            for i in range(n - 1, -1, -1):
                c[i] += 1.0
            return c""")


def test_writes_others_can_see_and_calls_stay():
    source = textwrap.dedent("""\
        def f(x, a, lst):
            v = a[1:]
            v[0] = x
            a[1] += x
            w = a
            w *= 2.0
            p = _rt.pop_ref(lst)
            p[0] = x
            r = np.empty(3)
            r[0] = x
            lst = _rt.push_ref(lst, r)
            y = helper(x)
            q = np.zeros(2)
            q += np.random.normal()
            return x""")
    assert pruned(source) == source


def test_a_loop_variable_read_only_inside_loops_that_bind_it_does_not_keep_an_empty_loop():
    assert pruned("""
        def f(a, n):
            b = np.zeros_like(a)
            for i in range(n):
                b[i] = a[i]
            for i in range(n):
                a[i] += 1.0
            return a
        """) == textwrap.dedent("""\
        def f(a, n):
            for i in range(n):
                a[i] += 1.0
            return a""")


def test_a_callees_vjp_does_not_recompute_the_result_its_caller_has():
    """The RK4 integrator calls ode_rhs four times a step; the backward sweep calls its VJP,
    which needs x and y but not ode_rhs's result: that loop is gone from the code (the VJP
    adds into the caller's adjoints of x and y), and the gradient still equals central
    differences."""
    x, s = np.linspace(0.2, 1.0, 5), 4
    grad = sd.grad(ode.last_component, backend="python")
    g = grad(x, s)
    vjp_source = grad.source[grad.source.index("def ode_rhs_vjp"):]
    assert "dy[i] = x[i] * y[i - 1]" not in vjp_source
    assert "def ode_rhs_vjp(x, y, dy_out_bar, x_bar, y_bar):" in vjp_source
    assert "y_bar[_t5] += _t7_bar * x[i]" in vjp_source
    h = 1e-6
    fd = [(ode.last_component(x + h * e, s) - ode.last_component(x - h * e, s)) / (2 * h) for e in np.eye(5)]
    np.testing.assert_allclose(g, fd, rtol=1e-7, atol=1e-9)


def test_lengths_of_arrays_allocated_with_numbers_are_folded_and_empty_branches_go():
    assert pruned("""
        def f(x, n):
            e = np.empty(2)
            g = np.zeros((3, n))
            h = np.empty(4)
            h = np.empty(n)
            if x > 0.0:
                t = math.sin(x)
            else:
                t = x
            e[0] = x
            return e.shape[0] + g.shape[0] + g.shape[1] + h.shape[0]
        """) == textwrap.dedent("""\
        def f(x, n):
            g = np.zeros((3, n))
            h = np.empty(4)
            h = np.empty(n)
            return 2 + 3 + g.shape[1] + h.shape[0]""")


def test_a_sum_read_only_by_its_own_updates_goes_unless_another_name_shares_it():
    assert pruned("""
        def f(x, w, n):
            total = 0.0
            for i in range(n):
                total = total + x[i] * x[i]
                total += math.sin(x[i])
            acc = np.zeros(n)
            for i in range(n):
                acc = acc + x[i]
            w += 1.0
            view = w[1:]
            view += x[0]
            kept = 0.0
            for i in range(n):
                kept = kept + f(x[i])
            return x, kept
        """) == textwrap.dedent("""\
        def f(x, w, n):
            w += 1.0
            view = w[1:]
            view += x[0]
            kept = 0.0
            for i in range(n):
                kept = kept + f(x[i])
            return (x, kept)""")


def softplus_sum(x):
    total = 0.0
    for i in range(x.shape[0]):
        total += math.log(1.0 + math.exp(x[i]))
    return total


def sums_of_helpers(x):
    row = np.empty(x.shape[0])
    total = 0.0
    for i in range(x.shape[0]):
        for j in range(x.shape[0]):
            row[j] = x[j] * x[i]
        total += softplus_sum(row)         # the gradient needs the adjoint of this, not its value
    return total


def test_a_helper_call_whose_result_nothing_reads_goes_with_the_helper():
    """``sd.grad`` needs the adjoint of ``softplus_sum(row)``, not its value: the forward sweep
    no longer calls it, and the module no longer holds it (its VJP is still called)."""
    grad = sd.grad(sums_of_helpers, backend="python")
    x = np.array([0.3, -0.7, 1.1])
    h = 1e-6
    expected = [(sums_of_helpers(x + h * e) - sums_of_helpers(x - h * e)) / (2 * h) for e in np.eye(3)]
    np.testing.assert_allclose(grad(x), expected, rtol=1e-6)
    vjp = grad.source[grad.source.index("def sums_of_helpers_vjp"):].split("\n\n")[0]
    assert "softplus_sum(row)" not in vjp and "\ndef softplus_sum(" not in grad.source, grad.source
    assert "softplus_sum_vjp(row, " in vjp, vjp
    value, _ = sd.value_and_grad(sums_of_helpers, backend="python")(x)
    assert value == sums_of_helpers(x)          # where the value is returned, the call stays


def _reverse_first_two(order):
    """Swaps order[0] and order[1]; returns how far apart they were."""
    first = order[0]
    order[0] = order[1]
    order[1] = first
    return float(abs(order[0] - order[1]))


def picks_after_reversing(x, order):
    spread = _reverse_first_two(order)
    return x[order[0]] * x[order[1]] * 2.0


def test_a_helper_writing_into_its_arguments_stays_though_its_result_goes_unread():
    """The VJP does not need ``spread``, but the helper writes into ``order``, so the call stays."""
    grad = sd.grad(picks_after_reversing, backend="python")
    x = np.array([2.0, 3.0, 5.0])
    order = np.array([0, 2])
    np.testing.assert_allclose(grad(x, order), [10.0, 0.0, 4.0], rtol=1e-12)
    np.testing.assert_array_equal(order, [2, 0])
    vjp = grad.source[grad.source.index("def picks_after_reversing_vjp"):].split("\n\n")[0]
    assert "= _reverse_first_two(order)" in vjp, vjp
