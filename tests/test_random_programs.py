"""Random programs: ``sd.grad`` and ``sd.jvp`` against central finite differences.

``progen.programs`` writes random modules (helpers plus a main ``f``) over
the constructs sourcediff differentiates: arithmetic and ``math`` functions
on safe domains, ``if/elif/else``, conditional expressions, ``for`` loops
over ``range`` (nested, constant or integer-argument bounds), ``while`` with
a counter bound, ``break``, ``continue``, early ``return``, tuple unpacking,
augmented assignment and calls to helpers.  Each program is written to a
file, imported, and checked at a random point:

* the point is kept only where the program is smooth: a traced copy of the
  program records every branch decision (``if``/``while``/conditional
  expression tests, ``min``/``max``/``abs`` choices), and the decisions must
  be the same at every finite-difference point and at +-1e-4 (relative)
  along each axis and along the tangent; values must be finite and below
  1e6 (intermediates below 1e5);
* ``sd.grad(f, argnums=<all float parameters>)`` matches central finite
  differences (h = 1e-6 relative) to rtol 1e-4 plus atol 1e-6 times the
  largest intermediate magnitude (a bound on the differences' rounding
  error), where the differences are self-consistent (h and 10 h agree);
* ``sd.jvp(f, args, tangents)`` returns ``f(*args)`` as its primal and
  ``grad . tangents`` as its tangent.

About 220 programs run on ``backend="python"`` and 20 small ones on
``backend="numba"``, whose results must also match the Python backend's to
1e-10.  Runs are derandomized.  A failure message holds the whole module and
the call, ready to paste into a file and rerun.
"""
import importlib.util
import itertools
import math
import os
import sys
import traceback

import pytest
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st

import sourcediff as sd

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import progen  # noqa: E402

PYTHON_EXAMPLES = 220
NUMBA_EXAMPLES = 20

RTOL = 1e-4          # finite differences against derivatives
ATOL = 1e-6          # times max(1, largest intermediate magnitude)
H_REL = 1e-6         # central-difference step, relative to max(1, |x|)
PROBE_REL = 1e-4     # branch decisions must not change within this distance
MAX_VALUE = 1e6
MAX_INTERMEDIATE = 1e5

COMMON = dict(deadline=None, derandomize=True, print_blob=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                     HealthCheck.data_too_large, HealthCheck.large_base_example])


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
        lines = [f"{what}", "",
                 f"---- program (save as {self.file.name}) " + "-" * 30,
                 self.prog.source.rstrip(), "-" * 60,
                 "call:",
                 f"    import sourcediff as sd, {self.file.stem} as m",
                 f"    {call}",
                 f"args = {args!r}", f"tangents = {tangents!r}"]
        if expected is not None:
            lines.append(f"expected: {expected!r}")
        if got is not None:
            lines.append(f"got:      {got!r}")
        return "\n".join(lines)


def _with(args, i, value):
    return args[:i] + (value,) + args[i + 1:]


def _smooth_point(case, args, tangents):
    """Value, gradient by finite differences and tolerances at ``args``; rejects bad points."""
    base = case.run(args)
    assume(base is not None)
    value, decisions, magnitude = base
    assume(abs(value) <= MAX_VALUE and magnitude <= MAX_INTERMEDIATE)
    plain = case.f(*args)
    assert plain == value, case.report(args, tangents, "the traced program differs from the program",
                                       "m.f(*args)", value, plain)
    scale = max(1.0, magnitude)

    def probe(point):
        r = case.run(point)
        assume(r is not None and r[1] == decisions and abs(r[0]) <= MAX_VALUE
               and r[2] <= 10 * MAX_INTERMEDIATE)
        scale_ = max(1.0, r[2])
        return r[0], scale_

    fd, tol = {}, {}
    for i in case.prog.float_params:
        x = args[i]
        width = max(1.0, abs(x))
        # the decisions must hold on a neighbourhood, not only at the difference points
        for delta in (PROBE_REL, -PROBE_REL, PROBE_REL / 7, -PROBE_REL / 7):
            scale = max(scale, probe(_with(args, i, x + delta * width))[1])
        estimates = []
        for h in (H_REL * width, 10 * H_REL * width):
            up, down = x + h, x - h
            f_up, s_up = probe(_with(args, i, up))
            f_down, s_down = probe(_with(args, i, down))
            scale = max(scale, s_up, s_down)
            estimates.append((f_up - f_down) / (up - down))
        fd[i] = estimates[0]
        tol[i] = RTOL * abs(estimates[0]) + ATOL * scale
        # differences that disagree with themselves say nothing about the derivative
        assume(abs(estimates[0] - estimates[1]) <= 0.5 * tol[i])
    # and along the tangent direction
    for sign in (1.0, -1.0):
        point = tuple(a + sign * PROBE_REL * max(1.0, abs(a)) * t if i in fd else a
                      for i, (a, t) in enumerate(zip(args, tangents)))
        probe(point)
    assume(all(abs(g) <= MAX_VALUE for g in fd.values()))
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
    """Check grad and jvp of ``case`` at ``args``; returns (grad, jvp) for comparisons."""
    value, fd, tol, scale = _smooth_point(case, args, tangents)
    floats = case.prog.float_params
    argnums = floats[0] if int_argnums else floats
    note(f"program:\n{case.prog.source}\nargs={args!r} tangents={tangents!r}")

    call = f"sd.grad(m.f, argnums={argnums!r}, backend={backend!r})(*args)"
    grad = _call_sd(case, args, tangents, call,
                    lambda: sd.grad(case.f, argnums=argnums, backend=backend)(*args))
    grads = (grad,) if int_argnums else grad
    assert isinstance(grads, tuple) and len(grads) == len(floats), case.report(
        args, tangents, "grad returned the wrong structure", call, f"{len(floats)} floats", grad)
    for i, g in zip(floats, grads):
        assert abs(g - fd[i]) <= tol[i], case.report(
            args, tangents, f"d f / d {case.prog.params[i][0]} differs from central finite "
            f"differences (tolerance {tol[i]:.3g})", call, fd[i], g)

    call = f"sd.jvp(m.f, args, tangents, backend={backend!r})"
    out, tangent = _call_sd(case, args, tangents, call,
                            lambda: sd.jvp(case.f, args, tangents, backend=backend))
    rel = 1e-12 if backend == "python" else 1e-10
    assert abs(out - value) <= rel * max(1.0, abs(value)), case.report(
        args, tangents, "jvp's primal output differs from f(*args)", call, value, out)
    if not int_argnums:
        expected = math.fsum(grads[k] * tangents[i] for k, i in enumerate(floats))
        size = math.fsum(abs(grads[k] * tangents[i]) for k, i in enumerate(floats))
        assert abs(tangent - expected) <= 1e-9 * max(size, ATOL * scale), case.report(
            args, tangents, "jvp's tangent differs from grad . tangents", call, expected, tangent)
    expected = math.fsum(fd[i] * tangents[i] for i in floats)
    allowed = math.fsum(tol[i] * abs(tangents[i]) for i in floats) + 1e-12
    assert abs(tangent - expected) <= allowed, case.report(
        args, tangents, f"jvp's tangent differs from finite differences (tolerance {allowed:.3g})",
        call, expected, tangent)
    return grads, (out, tangent)


def _arguments(prog):
    strategies = {
        "float": st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False,
                           allow_subnormal=False),
        "int": st.integers(0, 5),
        "bool": st.booleans(),
    }
    args = st.tuples(*(strategies[k] for _, k in prog.params))
    tangents = st.tuples(*(st.floats(-1.0, 1.0, allow_nan=False, allow_subnormal=False)
                           if k == "float" else st.just(0) for _, k in prog.params))
    return args, tangents


@settings(max_examples=PYTHON_EXAMPLES, **COMMON)
@given(prog=progen.programs(max_stmts=10, max_depth=2, max_expr_depth=3, helpers=2),
       data=st.data())
def test_random_programs_python(workdir, prog, data):
    case = Case(prog, workdir)
    args_st, tangents_st = _arguments(prog)
    args = data.draw(args_st, label="args")
    tangents = data.draw(tangents_st, label="tangents")
    int_argnums = len(prog.float_params) == 1 and data.draw(st.booleans(), label="int argnums")
    check(case, args, tangents, "python", int_argnums)


@settings(max_examples=NUMBA_EXAMPLES, **COMMON)
@given(prog=progen.programs(max_stmts=4, max_depth=1, max_expr_depth=2, helpers=1, small=True),
       data=st.data())
def test_random_programs_numba(workdir, prog, data):
    case = Case(prog, workdir)
    args_st, tangents_st = _arguments(prog)
    args = data.draw(args_st, label="args")
    tangents = data.draw(tangents_st, label="tangents")
    grads, (out, tangent) = check(case, args, tangents, "numba")
    # the compiled code computes what the generated Python computes
    py_grads = sd.grad(case.f, argnums=prog.float_params, backend="python")(*args)
    py_out, py_tangent = sd.jvp(case.f, args, tangents, backend="python")
    pairs = list(zip(grads, py_grads)) + [(out, py_out), (tangent, py_tangent)]
    for got, expected in pairs:
        assert abs(got - expected) <= 1e-10 * max(1.0, abs(expected)), case.report(
            args, tangents, "backend='numba' differs from backend='python'",
            "sd.grad / sd.jvp with backend='numba' vs 'python'", expected, got)
