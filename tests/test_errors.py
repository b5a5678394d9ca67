"""Errors name the user's file, line and code, and say what is supported."""
import os

import numpy as np
import pytest

import sourcediff as sd
from sourcediff import TransformError

import bad_programs as bad

HERE = os.path.join(os.path.dirname(__file__), "bad_programs.py")


def line_of(text):
    with open(HERE) as f:
        for number, line in enumerate(f, 1):
            if text in line:
                return number
    raise AssertionError(text)


def check(error, code, *phrases):
    message = str(error.value)
    assert isinstance(error.value, TypeError)
    assert error.value.filename == HERE
    assert error.value.lineno == line_of(code)
    assert f'File "{HERE}", line {line_of(code)}' in message
    assert code in message
    for phrase in phrases:
        assert phrase in message
    assert "Traceback" not in message and "numba" not in message.lower()


@pytest.mark.parametrize("backend", ["python", "numba"])
def test_comprehension(backend):
    with pytest.raises(TransformError) as e:
        sd.grad(bad.uses_comprehension, backend=backend)(1.0)
    check(e, "return sum([x * i for i in range(3)])", "list comprehensions are not supported",
          "for loop")


def test_function_without_rule():
    with pytest.raises(TransformError) as e:
        sd.grad(bad.calls_unknown)(1.0)
    check(e, "return math.gamma(x) * x", "has no derivative rule", "supported functions", "math.sin")


def test_numpy_function_without_rule():
    with pytest.raises(TransformError) as e:
        sd.grad(bad.calls_numpy_unknown, backend="python")(1.0)
    check(e, "return np.sinc(x)", "np.sinc", "no derivative rule")


def test_grad_of_int_argument():
    with pytest.raises(TransformError) as e:
        sd.grad(bad.int_argument, argnums=1)(1.0, 3)
    assert "requires real-valued (float) inputs" in str(e.value)
    assert "`n`" in str(e.value) and "is int" in str(e.value)
    assert e.value.lineno == line_of("def int_argument")


def test_grad_of_non_scalar_output():
    with pytest.raises(TransformError) as e:
        sd.grad(bad.two_outputs)(1.0)
    check(e, "return x, x * 2", "requires a scalar float output", "returns 2 values", "jacrev")


def test_grad_of_int_output():
    with pytest.raises(TransformError) as e:
        sd.grad(bad.returns_int, backend="python")(1.0)
    check(e, "return int(x)", "requires a scalar float output", "returns int")


def test_try_statement():
    with pytest.raises(TransformError) as e:
        sd.grad(bad.uses_try)(1.0)
    check(e, "try:", "try/except is not supported")


def test_undefined_name():
    with pytest.raises(TransformError) as e:
        sd.grad(bad.uses_undefined)(1.0)
    check(e, "return x * not_defined_anywhere", "`not_defined_anywhere` is not defined")


def test_for_over_tuple():
    with pytest.raises(TransformError) as e:
        sd.grad(bad.for_over_list)(1.0)
    check(e, "for v in (1.0, 2.0):", "range(stop)")


def test_global_array():
    with pytest.raises(TransformError) as e:
        sd.grad(bad.uses_global_array)(1.0)
    check(e, "return x * COEFFS[0]", "global NumPy array", "pass arrays as arguments")


def test_missing_return():
    with pytest.raises(TransformError) as e:
        sd.grad(bad.no_return)(1.0)
    check(e, "z = x * 3", "must end in `return value`")


def test_grad_of_array_output():
    import numpy as np
    with pytest.raises(TransformError) as e:
        sd.grad(bad.uses_slice)(1.0, np.ones(4))
    check(e, "return x * a[1:3]", "scalar float output", "float64[:]")


def test_method_call():
    with pytest.raises(TransformError) as e:
        sd.grad(bad.string_method)(1.0)
    check(e, "return x.conjugate()", "methods")


def test_bad_argument_kind():
    with pytest.raises(TypeError, match="argument `x` is str"):
        sd.grad(bad.two_outputs)("1.0")


def test_source_unavailable():
    namespace = {}
    exec("def f(x):\n    return x * 2\n", namespace)
    with pytest.raises(TransformError, match="cannot read the source of f"):
        sd.grad(namespace["f"])(1.0)


def test_write_through_ravel():
    """np.ravel is a view of a contiguous array and a copy of any other: derivatives
    refuse writes on either side after it (the primal runs as NumPy does)."""
    a = np.ones((2, 2))
    for transform in (sd.grad(bad.writes_through_ravel, argnums=1, backend="python"),
                      sd.jacfwd(bad.writes_through_ravel, argnums=1, backend="python")):
        with pytest.raises(TransformError) as e:
            transform(a, 0.5)
        check(e, "r[0] = x * x", "np.ravel(b)", "view of a contiguous array", "np.ravel(b).copy()")
        assert e.value.lineno == line_of("r[0] = x * x")
    assert sd.jit(bad.writes_through_ravel, backend="python")(a, 0.5) == 3.0625
