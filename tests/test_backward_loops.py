"""Rewrites of reverse-mode loops: backward loops whose iterations are independent run
forwards (``transform/loop_order.py``), sums into new zeros become writes
(``transform/first_writes.py``), tapes are indexed through segments
(``transform/tape_segments.py``), and adjoints made again reuse their arrays
(``transform/adjoint_reuse.py``).  Which loops change, which must not, and gradients
through them."""
import ast
import textwrap

import numpy as np
import pytest

import sourcediff as sd
from sourcediff.transform.first_writes import write_first_sums
from sourcediff.transform.adjoint_reuse import reuse_adjoints
from sourcediff.transform.loop_order import run_forwards
from sourcediff.transform.tape_segments import use_segments


def forwards(source, ndims, adjoints=(), distinct=(), pointers=()):
    """``source`` after the pass, every loop over a decreasing range taken as a backward one."""
    fn = ast.parse(textwrap.dedent(source)).body[0]
    for node in ast.walk(fn):
        if isinstance(node, ast.For):
            node.sd_backward = True
    run_forwards(fn, ndims, set(adjoints), set(distinct), pointers)
    return ast.unparse(fn)


def written(source, ndims):
    fn = ast.parse(textwrap.dedent(source)).body[0]
    write_first_sums(fn, ndims)
    return ast.unparse(fn)


def test_sums_into_arrays_and_scalars_it_does_not_read_turn_round():
    out = forwards("""
        def f_vjp(x, w, n, s_bar, w_bar):
            total_bar = 0.0
            for i in range(n - 1, -1, -1):
                t_bar = s_bar * x[i]
                w_bar[i] += t_bar
                total_bar += t_bar
            return w_bar, total_bar
        """, {"x": 1, "w": 1, "w_bar": 1}, adjoints={"w_bar"})
    assert "for i in range(n):" in out


def test_a_tape_popped_once_an_iteration_is_read_by_index():
    out = forwards("""
        def f_vjp(x, n, x_bar, _ftape, _fp):
            for j in range(x.shape[0] - 1, -1, -1):
                _fp -= 1
                power = _ftape[_fp]
                x_bar[j] += power
            return x_bar
        """, {"x": 1, "x_bar": 1}, adjoints={"x_bar"}, distinct={"_ftape"}, pointers={"_fp"})
    assert "_fp -= x.shape[0]\n    for j in range(x.shape[0]):\n        power = _ftape[_fp + j]" in out


@pytest.mark.parametrize("body, after", [
    ("t = x[i]; a_bar[i] += t", "y = t"),                # t read after the loop
    ("s += x[i]; a_bar[i] += s", ""),                    # a sum read inside it
    ("a_bar[i - 1] += a_bar[i] * x[i]", ""),             # another iteration's element
    ("b_bar[i] += a_bar[i] * x[i]", ""),                 # b_bar is a view of a_bar
    ("_fp -= 1; a_bar[i] += _ftape[_fp]; _fp -= 1", ""),  # two pops an iteration
])
def test_iterations_that_depend_on_each_other_keep_their_order(body, after):
    out = forwards(f"""
        def f_vjp(x, n, s):
            a_bar = np.zeros(n)
            b_bar = a_bar[1:]
            for i in range(n - 1, 0, -1):
                {body}
            {after}
            return a_bar, s
        """, {"x": 1, "a_bar": 1, "b_bar": 1}, adjoints={"a_bar", "b_bar"}, distinct={"_ftape"},
        pointers={"_fp"})
    assert "range(n - 1, 0, -1)" in out


def test_a_view_returned_by_a_call_shares_elements():
    out = forwards("""
        def f_vjp(x, n):
            a_bar = np.zeros(n)
            b_bar = _rt.accumulate(a_bar[1:], x)
            for i in range(n - 2, -1, -1):
                b_bar[i] += a_bar[i] * x[i]
            return a_bar
        """, {"x": 1, "a_bar": 1, "b_bar": 1}, adjoints={"a_bar", "b_bar"})
    assert "range(n - 2, -1, -1)" in out


def weighted_sum(w, x):
    total = 0.0
    for j in range(x.shape[0]):
        total += w[j] * x[j] * x[j]
    return total


def prefix_products(x):
    y = x * 1.0
    for i in range(1, x.shape[0]):
        y[i] = y[i] * y[i - 1]
    return np.sum(y)


def shifted_squares(x):
    a = x * 1.0
    b = a[1:]
    for i in range(b.shape[0]):
        b[i] = b[i] + a[i] * a[i]
    return np.sum(a * a)


def powers(x, t):
    total = 0.0
    power = 1.0
    for j in range(x.shape[0]):
        total += x[j] * power
        power *= t
    return total * total


def central_difference(f, x, eps=1e-6):
    out = np.zeros_like(x)
    for i in range(x.size):
        up, down = x.copy(), x.copy()
        up[i] += eps
        down[i] -= eps
        out[i] = (f(up) - f(down)) / (2 * eps)
    return out


@pytest.mark.parametrize("fn, rest, turned", [
    (weighted_sum, (np.linspace(-1.0, 2.0, 6),), True),
    (powers, (0.7,), True),
    (prefix_products, (), False),
    (shifted_squares, (), False),
])
def test_gradients_through_loops_either_way(fn, rest, turned):
    x = np.linspace(0.6, 1.3, 6)
    grad = sd.grad(fn, backend="python")
    expected = central_difference(lambda v: fn(v, *rest), x)
    np.testing.assert_allclose(grad(x, *rest), expected, rtol=1e-6, atol=1e-8)
    backward = grad.source[grad.source.index("_bar = "):]
    assert (", -1, -1)" not in backward and ", 0, -1)" not in backward) == turned, grad.source


def test_a_first_sum_over_every_element_writes_into_an_empty_array():
    out = written("""
        def f_vjp(x, g):
            x_bar = np.zeros_like(x)
            y_bar = np.zeros_like(x)
            n = x.shape[0]
            t = g * 2.0
            for i in range(n - 1, -1, -1):
                x_bar[i] += t * x[i]
                y_bar[i] -= t
            return x_bar, y_bar
        """, {"x": 1, "x_bar": 1, "y_bar": 1})
    assert "x_bar = np.empty_like(x)" in out and "y_bar = np.empty_like(x)" in out
    assert "x_bar[i] = t * x[i]" in out and "y_bar[i] = -t" in out


SUM = "x_bar[i] += g * x[i]"


@pytest.mark.parametrize("between, loop, write", [
    ("pass", f"for i in range(1, n):\n    {SUM}", True),                    # not every element
    ("x_bar[0] = g", f"for i in range(n):\n    {SUM}", False),              # touched before
    ("pass", f"for i in range(n):\n    if x[i] > 0.0:\n        break\n    {SUM}", True),  # may stop
    ("pass", f"for j in range(2):\n    for i in range(n):\n        {SUM}", False),  # twice
    ("pass", f"for j in range(2):\n    x_bar = np.zeros(n)\n    for i in range(n):\n        {SUM}", True),
    ("pass", f"for i in range(n):\n    {SUM}\n    x_bar[i] *= 2.0", False),  # not its only use
    ("pass", f"for i in range(n):\n    i = i // 2\n    {SUM}", False),     # i repeats
])
def test_sums_become_writes_only_into_untouched_zeros(between, loop, write):
    source = "def f_vjp(x, g, n):\n    x_bar = np.zeros_like(x)\n    " + between + "\n" + \
        textwrap.indent(loop, "    ") + "\n    return x_bar\n"
    out = written(source, {"x": 1, "x_bar": 1})
    assert ("x_bar[i] = g * x[i]" in out) == write, out
    assert "np.empty_like" not in out, out


def segmented(source):
    fn = ast.parse(textwrap.dedent(source)).body[0]
    taken = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name)}
    use_segments(fn, {"_ftape": "_fp"}, lambda stem: stem if stem not in taken else stem + "_")
    return ast.unparse(ast.fix_missing_locations(fn))


def run(source, *args):
    space = {"np": np}
    exec(source, space)
    return space["f"](*args)


PUSHES = """
    def f(y, n, first, _ftape, _fp):
        for i in range(first, n):
            _ftape[_fp] = y[i]
            _fp += 1
            y[i] = y[i] * 2.0
            _ftape[_fp] = y[i - 1]
            _fp += 1
        return _ftape, _fp
    """


@pytest.mark.parametrize("n, first", [(6, 1), (6, 0), (6, 6), (3, 5)])
def test_pushes_in_a_loop_go_through_a_segment(n, first):
    out = segmented(PUSHES)
    assert "_ftape_seg = _ftape[_fp:]" in out and "_ftape_seg[2 * (i - first) + 1] = y[i - 1]" in out
    assert "_fp += 2 * max(n - first, 0)" in out
    y = np.linspace(0.5, 1.0, 6)
    tape, pos = run(textwrap.dedent(PUSHES), y.copy(), n, first, np.full(16, -1.0), 3)
    tape_seg, pos_seg = run(out, y.copy(), n, first, np.full(16, -1.0), 3)
    np.testing.assert_array_equal(tape_seg, tape)
    assert pos_seg == pos


def test_reads_at_the_position_plus_the_loop_variable_go_through_a_segment():
    source = """
        def f(x_bar, n, _ftape, _fp):
            _fp -= n
            for j in range(n):
                x_bar[j] += _ftape[_fp + j] * 2.0
            return x_bar, _fp
        """
    out = segmented(source)
    assert "x_bar[j] += _ftape_seg[j] * 2.0" in out
    tape = np.linspace(0.0, 1.0, 9)
    expected = run(textwrap.dedent(source), np.ones(4), 4, tape, 7)
    got = run(out, np.ones(4), 4, tape, 7)
    np.testing.assert_array_equal(got[0], expected[0])
    assert got[1] == expected[1] == 3


@pytest.mark.parametrize("loop", [
    "for i in range(n):\n    if y[i] > 0.0:\n        _ftape[_fp] = y[i]\n        _fp += 1",   # not every iteration
    "for i in range(n):\n    _ftape[_fp] = y[i]\n    _fp += 1\n    if y[i] > 0.5:\n        break",  # may stop
    "for i in range(0, n, 2):\n    _ftape[_fp] = y[i]\n    _fp += 1",                      # a step of 2
    "for i in range(n):\n    _ftape[_fp] = y[i]\n    _fp += 1\n    n = n - 1",               # bound rebound
    "for i in range(n):\n    _ftape[_fp] = _ftape[_fp - 1]\n    _fp += 1",                 # the tape read too
    "for i in range(n):\n    y[i] = _ftape[_fp + i - 1]",                                   # not at i
    "for i in range(n):\n    _ftape = _rt.reserve(_ftape, _fp + 1)\n    _ftape[_fp] = y[i]\n    _fp += 1",
])
def test_loops_that_move_the_position_otherwise_keep_indexing_the_tape(loop):
    source = "def f(y, n, _ftape, _fp):\n" + textwrap.indent(loop, "    ") + "\n    return _ftape, _fp\n"
    assert "_seg" not in segmented(source)


REMADE = """
    def f_vjp(x, steps, x_bar, _k_shapes):
        k_bar = np.zeros_like(x)
        for step in range(steps - 1, -1, -1):
            for i in range(x.shape[0]):
                k_bar[i] = x[i] * 2.0
            k_bar = _rt.accumulate(k_bar, x * 3.0)
            helper_vjp(x, k_bar, x_bar)
            x_bar[0] += np.sum(k_bar * x) + k_bar.shape[0]
            {use}
            k_bar = np.zeros(_rt.pop_ref(_k_shapes), np.float64)
        return x_bar
    """


@pytest.mark.parametrize("use, reused", [
    ("pass", True),
    ("_g = k_bar", False),                              # another name holds the array
    ("_keep = _rt.push_ref(_keep, k_bar)", False),      # a list does
    ("y_bar = np.ravel(k_bar)", False),                 # a view of it does
    ("k_bar = x_bar", False),                           # it is bound to an array another name holds
])
def test_an_adjoint_made_again_reuses_its_array_only_where_no_other_name_holds_it(use, reused):
    fn = ast.parse(textwrap.dedent(REMADE.replace("{use}", use))).body[0]
    reuse_adjoints(fn)
    out = ast.unparse(fn)
    assert ("k_bar = _rt.zeroed(k_bar, _rt.pop_ref(_k_shapes))" in out) == reused, out
    assert ("np.zeros(_rt.pop_ref(_k_shapes), np.float64)" in out) != reused, out


REFILLED = """
    def f_vjp(x, steps, x_bar, _k_shapes):
        n = x.shape[0]
        k_bar = np.zeros_like(x)
        for step in range(steps - 1, -1, -1):
            {first}
            for i in range(n):
                k_bar[i] = x[i] * 2.0
            helper_vjp(x, k_bar, x_bar)
            k_bar = _rt.zeroed(k_bar, _rt.pop_ref(_k_shapes))
            {last}
        {after}
        return x_bar
    """


@pytest.mark.parametrize("first, last, after, beyond", [
    ("pass", "pass", "pass", True),
    ("pass", "pass", "x_bar += k_bar", False),               # read after the loop: all zeros
    ("x_bar[0] += k_bar[0]", "pass", "pass", False),          # read before the writes
    ("pass", "n = n - 1", "pass", False),                     # n changes before the writes
    ("pass", "k_bar[0] = 1.0", "pass", False),                # not the last use
    ("pass", "if x_bar[0] > 9.0:\n                break", "pass", False),
])
def test_a_refill_before_a_loop_of_writes_zeroes_only_the_elements_it_does_not_write(
        first, last, after, beyond):
    out = written(REFILLED.format(first=first, last=last, after=after), {"x": 1, "x_bar": 1, "k_bar": 1})
    assert ("k_bar = _rt.zeroed(k_bar, _rt.pop_ref(_k_shapes), n)" in out) == beyond, out


def test_a_refill_in_a_loop_inside_another_zeroes_everything():
    nested = textwrap.dedent(REFILLED.format(first="pass", last="pass", after="pass")).replace(
        "    for step", "    for outer in range(2):\n      for step")
    out = written(nested, {"x": 1, "x_bar": 1, "k_bar": 1})
    assert "k_bar = _rt.zeroed(k_bar, _rt.pop_ref(_k_shapes))" in out, out


def partly_written(y0, a, steps):
    y = y0.copy()
    n = y.shape[0]
    for step in range(steps):
        k = np.sin(y) * a
        y[0] += k[n - 1] * 0.5
        for i in range(n - 1):
            y[i + 1] += 0.1 * k[i]
    return np.sum(y * y)


def test_the_element_a_loop_of_writes_leaves_is_zeroed_for_the_next_step():
    """k_bar's last element takes y_bar[0] after the loop writes the others; refilled for
    the step before, only it needs zeroing, and a stale value there would be wrong."""
    grad = sd.grad(partly_written, argnums=(0, 1))
    y0 = np.linspace(0.2, 1.1, 5)
    g = grad(y0, 0.7, 4)
    assert "k_bar = _rt.zeroed(k_bar, _rt.pop_ref(_k_shapes), n - 1)" in grad.source
    np.testing.assert_allclose(g[0], central_difference(lambda v: partly_written(v, 0.7, 4), y0), rtol=1e-7)
    h = 1e-6
    expected = (partly_written(y0, 0.7 + h, 4) - partly_written(y0, 0.7 - h, 4)) / (2 * h)
    np.testing.assert_allclose(g[1], expected, rtol=1e-7)


def test_a_refill_keeps_the_elements_the_code_writes_first():
    from sourcediff.backends import numba_runtime as _rt
    old = np.arange(1.0, 6.0)
    assert _rt.zeroed(old, (5,), 3) is old and old.tolist() == [1.0, 2.0, 3.0, 0.0, 0.0]
    assert _rt.zeroed(old, (5,), -1).tolist() == [0.0] * 5
    assert _rt.zeroed(old, (4,), 3).tolist() == [0.0] * 4
