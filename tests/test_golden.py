"""The generated source of a few examples, compared with checked-in files.

A change in the generated code shows up here as a diff to review.  After
reviewing, refresh the files with ``SOURCEDIFF_UPDATE_GOLDEN=1 pytest tests/test_golden.py``.
"""
import ast
import os
import sys

import pytest

import sourcediff as sd
from sourcediff.api import Transformed

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "examples"))
GOLDEN = os.path.join(os.path.dirname(__file__), "golden")

import ode_sensitivity  # noqa: E402
import recurrence  # noqa: E402
import programs_golden as pg  # noqa: E402

CASES = [
    ("recurrence_grad", recurrence.f, "grad", 0, ("float", "int")),
    ("recurrence_jvp", recurrence.f, "jvp", 0, ("float", "int")),
    ("rk4_vjp", ode_sensitivity.integrate, "vjp", 0, ("float", "float", "float", "int")),
    ("newton_grad", pg.newton_sqrt, "grad", 0, ("float",)),
    ("early_return_grad", pg.early_return, "grad", 0, ("float", "int")),
]


def normalized(source):
    return source.replace(ROOT, "<root>")


@pytest.mark.parametrize("label, fn, mode, argnums, kinds", CASES, ids=[c[0] for c in CASES])
def test_generated_source(label, fn, mode, argnums, kinds):
    source = normalized(Transformed(fn, mode, argnums, backend="python").entry(kinds).source)
    ast.parse(source)
    path = os.path.join(GOLDEN, label + ".py")
    if os.environ.get("SOURCEDIFF_UPDATE_GOLDEN") or not os.path.exists(path):
        with open(path, "w") as f:
            f.write(source)
    with open(path) as f:
        assert source == f.read()


def test_show_prints_the_source(capsys):
    g = sd.grad(recurrence.f, backend="python")
    g(0.5, 3)
    sd.show(g)
    assert capsys.readouterr().out == g.source + "\n"


def test_source_before_any_call_guesses_kinds():
    g = sd.grad(recurrence.f, backend="python")
    assert "def f_vjp(x, n, s_out_bar):" in g.source
