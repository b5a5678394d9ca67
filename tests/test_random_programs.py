"""Random programs: ``sd.grad`` and ``sd.jvp`` against central finite differences.

``progen.programs`` writes random modules (helpers plus a main ``f``) over
the constructs sourcediff differentiates: arithmetic and ``math`` functions
on safe domains, ``if/elif/else``, conditional expressions, ``and``/``or``/
``not``, chained comparisons, ``for`` loops over ``range`` (nested, constant
or integer-argument bounds), ``while`` with a counter bound, ``break``,
``continue``, early ``return``, tuple unpacking, augmented assignment, int
and bool variables, and calls to helpers (returning a float or a pair).
Each program is written to a file in a temporary directory, imported, and
checked at three random points (the transform is built once):

* a point is used only where the program is smooth: a traced copy of the
  program records every branch decision (``if``/``while``/conditional
  expression tests, ``min``/``max``/``abs`` choices), and the decisions must
  be the same at every finite-difference point, at +-1e-4 (relative) along
  each axis and along the tangent; values must be finite and below 1e6
  (intermediates below 1e5);
* ``sd.grad(f, argnums=<all float parameters>)`` matches central finite
  differences (h = 1e-6 relative) to rtol 1e-4 plus atol 1e-6 times the
  largest intermediate magnitude (a bound on the differences' rounding
  error), where the differences are self-consistent (h and 10 h agree);
* ``sd.jvp(f, args, tangents)`` returns ``f(*args)`` as its primal (to
  1e-12) and as its tangent ``grad . tangents`` (to 1e-9) and the finite
  differences' directional derivative.

400 programs run on ``backend="python"`` and 20 small ones on
``backend="numba"``, whose results must also match the Python backend's to
1e-10.  Runs are derandomized (the same programs every run).  A failure
message holds the whole module, the point and the call as a script to save
and run.

Array programs (``progen.ArrayGen``) add a float array argument ``arr`` of
``progen.ARRAY_LEN`` elements and local arrays: element reads with index
arithmetic, element, slice and view writes (``=``, ``+=``, ``-=``, ``*=``),
arrays rebound and swapped in loops, elementwise NumPy expressions and
reductions.  Each element of ``arr`` is a coordinate checked like a float
argument (the same smoothness probes and finite differences); the gradient
must be an array of ``arr``'s shape and dtype, and neither the program nor
sourcediff may write into ``arr``.  100 run on ``backend="python"``, 3 small
ones on ``backend="numba"``.

Every construct listed above is generated everywhere it is valid Python:
the engine bugs that once kept some out (triangular loops, ``v = v``, tape
reservations, ``break`` out of while loops, ...) are fixed, and 2000 Python
programs plus 400 array programs pass.  Environment knobs:
``SD_RANDOM_PROGRAMS_EXAMPLES=N`` changes the number of Python
programs (``SD_RANDOM_ARRAY_PROGRAMS_EXAMPLES=N``: of Python array programs),
``SD_RANDOM_PROGRAMS_SHRINK=0`` reports failures unshrunk (shrinking takes
minutes).
"""
import importlib.util
import itertools
import math
import os
import sys
import traceback

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, assume, event, given, settings
from hypothesis import strategies as st

import sourcediff as sd

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import progen  # noqa: E402

PYTHON_EXAMPLES = int(os.environ.get("SD_RANDOM_PROGRAMS_EXAMPLES", "400"))
NUMBA_EXAMPLES = 20
# programs with a float array argument and local arrays (progen.ArrayGen)
PYTHON_ARRAY_EXAMPLES = int(os.environ.get("SD_RANDOM_ARRAY_PROGRAMS_EXAMPLES", "100"))
NUMBA_ARRAY_EXAMPLES = 3
POINTS = 3           # points checked per program (the transform is built once)

RTOL = 1e-4          # finite differences against derivatives
ATOL = 1e-6          # times max(1, largest intermediate magnitude)
H_REL = 1e-6         # central-difference step, relative to max(1, |x|)
PROBE_REL = 1e-4     # branch decisions must not change within this distance
MAX_VALUE = 1e6
MAX_INTERMEDIATE = 1e5

COMMON = dict(deadline=None, derandomize=True, print_blob=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                     HealthCheck.data_too_large, HealthCheck.large_base_example])
# Shrinking a failing program takes minutes (each step transforms a program); set
# SD_RANDOM_PROGRAMS_SHRINK=0 to see the first failures at once, unshrunk.
if os.environ.get("SD_RANDOM_PROGRAMS_SHRINK", "1") == "0":
    COMMON["phases"] = [Phase.explicit, Phase.reuse, Phase.generate]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """Where generated modules are written; a private sourcediff cache if none is set."""
    path = tmp_path_factory.mktemp("random_programs")
    saved = os.environ.get("SOURCEDIFF_CACHE_DIR")
    if saved is None:
        os.environ["SOURCEDIFF_CACHE_DIR"] = str(path / "cache")
    yield path
    if saved is None:
        os.environ.pop("SOURCEDIFF_CACHE_DIR", None)


_serial = itertools.count()


def _import(path, source):
    name = f"sd_random_program_{next(_serial)}"
    file = path / f"{name}.py"
    file.write_text(source)
    spec = importlib.util.spec_from_file_location(name, file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, file


class Case:
    """A generated program, imported plainly and traced."""

    def __init__(self, prog, workdir):
        self.prog = prog
        self.module, self.file = _import(workdir, prog.source)
        self.f = getattr(self.module, prog.name)
        self.tracer = progen.Tracer()
        traced, _ = _import(workdir, progen.traced_source(prog.source))
        traced._tr = self.tracer
        self.traced = getattr(traced, prog.name)
        self.grads = {}

    def grad(self, argnums, backend):
        """``sd.grad`` of the program, built once and checked at several points."""
        key = (argnums, backend)
        if key not in self.grads:
            self.grads[key] = sd.grad(self.f, argnums=argnums, backend=backend)
        return self.grads[key]

    def run(self, args):
        """(value, decisions, magnitude), or None where the point is unusable."""
        self.tracer.reset()
        try:
            value = self.traced(*args)
        except (OverflowError, ZeroDivisionError, ValueError):
            return None
        if self.tracer.singular or not isinstance(value, float) or not math.isfinite(value):
            return None
        return value, tuple(self.tracer.events), self.tracer.magnitude

    # -------------------------------------------------------- failure messages
    def report(self, args, tangents, what, call, expected=None, got=None):
        """A self-contained message: ``what`` went wrong, and a script that reruns it."""
        lines = [what, ""]
        if expected is not None:
            lines += [f"expected: {expected!r}", f"got:      {got!r}", ""]
        lines += ["---- to rerun, save as repro.py and run `python repro.py` " + "-" * 12,
                  self.prog.source.rstrip(), "", "",
                  'if __name__ == "__main__":',
                  "    import sourcediff as sd",
                  "    from numpy import array",
                  f"    args = {args!r}",
                  f"    tangents = {tangents!r}",
                  "    print(f(*args))",
                  f"    print({call})",
                  "-" * 70]
        return "\n".join(lines)


class Unusable(Exception):
    """The point is near a branch switch or a kink, or values are too large."""


def _require(condition):
    if not condition:
        raise Unusable


def _with(args, i, value):
    return args[:i] + (value,) + args[i + 1:]


# A differentiated scalar is a coordinate: (parameter position, None) for a float parameter,
# (parameter position, element index) for an element of a float array parameter.

def _coords(prog, args):
    out = []
    for i in prog.float_params:
        if isinstance(args[i], np.ndarray):
            out += [(i, k) for k in np.ndindex(args[i].shape)]
        else:
            out.append((i, None))
    return out


def _get(args, coord):
    i, k = coord
    return args[i] if k is None else float(args[i][k])


def _with_coord(args, coord, value):
    i, k = coord
    if k is None:
        return _with(args, i, value)
    changed = args[i].copy()
    changed[k] = value
    return _with(args, i, changed)


def _coord_name(case, coord):
    i, k = coord
    return case.prog.params[i][0] + ("" if k is None else str(list(k)))


def _arrays_of(args):
    return [(i, a.copy()) for i, a in enumerate(args) if isinstance(a, np.ndarray)]


def _unchanged(args, saved):
    return all(np.array_equal(args[i], a) for i, a in saved)


def _smooth_point(case, args, tangents):
    """Value, gradient by finite differences and tolerances at ``args``; Unusable if unsmooth."""
    base = case.run(args)
    _require(base is not None)
    value, decisions, magnitude = base
    _require(abs(value) <= MAX_VALUE and magnitude <= MAX_INTERMEDIATE)
    saved = _arrays_of(args)
    plain = case.f(*args)
    assert _unchanged(args, saved), case.report(args, tangents, "the program writes into its "
                                                "argument array", "f(*args)")
    assert plain == value, case.report(args, tangents, "the traced program differs from the program",
                                       "f(*args)", value, plain)
    scale = max(1.0, magnitude)

    def probe(point):
        r = case.run(point)
        _require(r is not None and r[1] == decisions and abs(r[0]) <= MAX_VALUE
                 and r[2] <= 10 * MAX_INTERMEDIATE)
        scale_ = max(1.0, r[2])
        return r[0], scale_

    fd, tol = {}, {}
    for c in _coords(case.prog, args):
        x = _get(args, c)
        width = max(1.0, abs(x))
        # the decisions must hold on a neighbourhood, not only at the difference points
        for delta in (PROBE_REL, -PROBE_REL, PROBE_REL / 7, -PROBE_REL / 7):
            scale = max(scale, probe(_with_coord(args, c, x + delta * width))[1])
        estimates = []
        for h in (H_REL * width, 10 * H_REL * width):
            up, down = x + h, x - h
            f_up, s_up = probe(_with_coord(args, c, up))
            f_down, s_down = probe(_with_coord(args, c, down))
            scale = max(scale, s_up, s_down)
            estimates.append((f_up - f_down) / (up - down))
        fd[c] = estimates[0]
        tol[c] = RTOL * abs(estimates[0]) + ATOL * scale
        # differences that disagree with themselves say nothing about the derivative
        _require(abs(estimates[0] - estimates[1]) <= 0.5 * tol[c])
    # and along the tangent direction
    floats = case.prog.float_params
    for sign in (1.0, -1.0):
        point = tuple(a + sign * PROBE_REL * np.maximum(1.0, np.abs(a)) * t
                      if isinstance(a, np.ndarray) and i in floats else
                      a + sign * PROBE_REL * max(1.0, abs(a)) * t if i in floats else a
                      for i, (a, t) in enumerate(zip(args, tangents)))
        probe(point)
    _require(all(abs(g) <= MAX_VALUE for g in fd.values()))
    return value, fd, {i: RTOL * abs(fd[i]) + ATOL * scale for i in fd}, scale


def _call_sd(case, args, tangents, call, thunk):
    try:
        return thunk()
    except Exception as e:   # noqa: BLE001 -- any engine error is a failure, with the program
        tail = "".join(traceback.format_exception(e)[-8:])
    # raised outside the handler: Hypothesis tells failures apart by where their exception
    # (and its context) arose, and generated file names differ from one replay to the next
    raise AssertionError(case.report(args, tangents, f"sourcediff raised:\n{tail}", call))


def check(case, args, tangents, backend, int_argnums=False):
    """Check grad and jvp of ``case`` at ``args``; returns (grad, jvp) for comparisons.

    Raises Unusable, before calling sourcediff, where the point cannot be checked."""
    value, fd, tol, scale = _smooth_point(case, args, tangents)
    floats = case.prog.float_params
    argnums = floats[0] if int_argnums else floats

    call = f"sd.grad(f, argnums={argnums!r}, backend={backend!r})(*args)"
    saved = _arrays_of(args)
    grad = _call_sd(case, args, tangents, call,
                    lambda: case.grad(argnums, backend)(*args))
    grads = (grad,) if int_argnums else grad
    assert isinstance(grads, tuple) and len(grads) == len(floats), case.report(
        args, tangents, "grad returned the wrong structure", call, f"{len(floats)} floats", grad)
    by_coord = {}
    for i, g in zip(floats, grads):
        if isinstance(args[i], np.ndarray):
            assert isinstance(g, np.ndarray) and g.shape == args[i].shape and \
                g.dtype == args[i].dtype, case.report(
                    args, tangents, f"the gradient of array {case.prog.params[i][0]} is not an "
                    "array of its shape and dtype", call, f"{args[i].dtype} {args[i].shape}", g)
            by_coord.update({(i, k): float(g[k]) for k in np.ndindex(g.shape)})
        else:
            by_coord[(i, None)] = g
    for c, g in by_coord.items():
        assert abs(g - fd[c]) <= tol[c], case.report(
            args, tangents, f"d f / d {_coord_name(case, c)} differs from central finite "
            f"differences (tolerance {tol[c]:.3g})", call, fd[c], g)

    call = f"sd.jvp(f, args, tangents, backend={backend!r})"
    out, tangent = _call_sd(case, args, tangents, call,
                            lambda: sd.jvp(case.f, args, tangents, backend=backend))
    assert _unchanged(args, saved), case.report(args, tangents, "sourcediff wrote into an "
                                                "argument array", call)
    rel = 1e-12 if backend == "python" else 1e-10
    assert abs(out - value) <= rel * max(1.0, abs(value)), case.report(
        args, tangents, "jvp's primal output differs from f(*args)", call, value, out)
    t = {c: _get(tangents, c) for c in fd}
    if not int_argnums:
        expected = math.fsum(by_coord[c] * t[c] for c in fd)
        size = math.fsum(abs(by_coord[c] * t[c]) for c in fd)
        assert abs(tangent - expected) <= 1e-9 * max(size, ATOL * scale), case.report(
            args, tangents, "jvp's tangent differs from grad . tangents", call, expected, tangent)
    expected = math.fsum(fd[c] * t[c] for c in fd)
    allowed = math.fsum(tol[c] * abs(t[c]) for c in fd) + 1e-12
    assert abs(tangent - expected) <= allowed, case.report(
        args, tangents, f"jvp's tangent differs from finite differences (tolerance {allowed:.3g})",
        call, expected, tangent)
    return grads, (out, tangent)


def _points(prog, count):
    """``count`` (args, tangents) pairs for ``prog``: one transform is checked at several points."""
    real = st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False, allow_subnormal=False)
    unit = st.floats(-1.0, 1.0, allow_nan=False, allow_subnormal=False)
    n = progen.ARRAY_LEN
    value = {
        "float": real,
        "int": st.integers(0, 5),
        "bool": st.booleans(),
        "array": st.lists(real, min_size=n, max_size=n).map(np.array),
    }
    tangent = {"float": unit, "array": st.lists(unit, min_size=n, max_size=n).map(np.array)}
    args = st.tuples(*(value[k] for _, k in prog.params))
    tangents = st.tuples(*(tangent.get(k, st.just(0)) for _, k in prog.params))
    return st.lists(st.tuples(args, tangents), min_size=count, max_size=count)


def _check_points(case, points, backend, **kw):
    """Check every usable point; the example is rejected where none is usable."""
    checked = []
    for args, tangents in points:
        try:
            checked.append((args, tangents) + check(case, args, tangents, backend, **kw))
        except Unusable:
            continue
    event(f"usable points: {len(checked)} of {len(points)}")
    assume(checked)
    return checked


@settings(max_examples=PYTHON_EXAMPLES, **COMMON)
@given(prog=progen.programs(max_stmts=10, max_depth=2, max_expr_depth=3, helpers=2),
       data=st.data())
def test_random_programs_python(workdir, prog, data):
    case = Case(prog, workdir)
    points = data.draw(_points(prog, POINTS), label="points (args, tangents)")
    int_argnums = len(prog.float_params) == 1 and data.draw(st.booleans(), label="int argnums")
    _check_points(case, points, "python", int_argnums=int_argnums)


@settings(max_examples=NUMBA_EXAMPLES, **COMMON)
@given(prog=progen.programs(max_stmts=4, max_depth=1, max_expr_depth=2, helpers=1, small=True),
       data=st.data())
def test_random_programs_numba(workdir, prog, data):
    case = Case(prog, workdir)
    points = data.draw(_points(prog, POINTS), label="points (args, tangents)")
    for args, tangents, grads, (out, tangent) in _check_points(case, points, "numba"):
        # the compiled code computes what the generated Python computes
        py_grads = case.grad(prog.float_params, "python")(*args)
        py_out, py_tangent = sd.jvp(case.f, args, tangents, backend="python")
        pairs = list(zip(grads, py_grads)) + [(out, py_out), (tangent, py_tangent)]
        for got, expected in pairs:
            assert abs(got - expected) <= 1e-10 * max(1.0, abs(expected)), case.report(
                args, tangents, "backend='numba' differs from backend='python'",
                f"sd.grad(f, argnums={prog.float_params!r}, backend='numba')(*args), "
                f"sd.grad(f, argnums={prog.float_params!r}, backend='python')(*args), "
                "sd.jvp(f, args, tangents, backend='numba'), "
                "sd.jvp(f, args, tangents, backend='python')", expected, got)


# ------------------------------------------------------------------ array programs

@settings(max_examples=PYTHON_ARRAY_EXAMPLES, **COMMON)
@given(prog=progen.programs(max_stmts=8, max_depth=2, max_expr_depth=2, helpers=1, arrays=True),
       data=st.data())
def test_random_array_programs_python(workdir, prog, data):
    case = Case(prog, workdir)
    points = data.draw(_points(prog, POINTS), label="points (args, tangents)")
    _check_points(case, points, "python")


@settings(max_examples=NUMBA_ARRAY_EXAMPLES, **COMMON)
@given(prog=progen.programs(max_stmts=4, max_depth=1, max_expr_depth=2, helpers=0, small=True,
                            arrays=True),
       data=st.data())
def test_random_array_programs_numba(workdir, prog, data):
    case = Case(prog, workdir)
    points = data.draw(_points(prog, POINTS), label="points (args, tangents)")
    for args, tangents, grads, (out, tangent) in _check_points(case, points, "numba"):
        py_grads = case.grad(prog.float_params, "python")(*args)
        py_out, py_tangent = sd.jvp(case.f, args, tangents, backend="python")
        pairs = list(zip(grads, py_grads)) + [(out, py_out), (tangent, py_tangent)]
        for got, expected in pairs:
            assert np.allclose(got, expected, rtol=1e-10, atol=1e-10), case.report(
                args, tangents, "backend='numba' differs from backend='python'",
                f"sd.grad(f, argnums={prog.float_params!r}, backend='numba')(*args), "
                f"sd.grad(f, argnums={prog.float_params!r}, backend='python')(*args)",
                expected, got)
