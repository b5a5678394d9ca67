"""Reliability (issue 8): the compile cache, threads, bad input at call time, use across processes.

Anything that needs a fresh process runs in a subprocess; every test has its own
cache directory (SOURCEDIFF_CACHE_DIR).  In-process tests that must load a
module from disk as a new process would drop it from ``sys.modules`` first.
"""
import glob
import math
import multiprocessing
import os
import pickle
import re
import stat
import subprocess
import sys
import textwrap
import threading
import warnings

import numpy as np
import pytest

import reliability_helpers as helpers
import sourcediff as sd

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
OTHER_UID = 65534       # nobody


@pytest.fixture
def cache(tmp_path, monkeypatch):
    path = tmp_path / "cache"
    monkeypatch.setenv("SOURCEDIFF_CACHE_DIR", str(path))
    return path


def env_for(cache_path):
    path = os.pathsep.join(p for p in (HERE, os.environ.get("PYTHONPATH")) if p)
    return dict(os.environ, SOURCEDIFF_CACHE_DIR=str(cache_path), SOURCEDIFF_BACKEND="numba",
                PYTHONWARNINGS="always", PYTHONPATH=path)


_counter = [0]


def fresh_model():
    """A function whose generated module no test has loaded: its constant is baked into the source."""
    _counter[0] += 1
    c = 1.0 + _counter[0] / 1024 + os.getpid() % 1000 / 1e6

    def model(x):
        s = x
        for i in range(4):
            s = c * math.sin(s) + x * s
        return s
    return model, c


def numerical(f, x, h=1e-6):
    return (f(x + h) - f(x - h)) / (2 * h)


def module_of(transformed, kinds):
    return sys.modules[transformed.entry(kinds).function.py_func.__module__]


def compiles(module):
    """Functions of a generated module compiled (not loaded from disk) in this process."""
    return helpers.count_in(module, "cache_misses")


def loads(module):
    """Functions of a generated module loaded from the disk cache in this process."""
    return helpers.count_in(module, "cache_hits")


def forget(module):
    """As if in a new process: the next build executes the module from its file again."""
    sys.modules.pop(module.__name__, None)


# ------------------------------------------------------------------ 1. cache correctness

USER = textwrap.dedent('''
    import math
    import sourcediff as sd
    SCALE = 2.0

    def helper(a):
        return SCALE * math.sin(a)

    def f(x, n):
        s = 0.0
        for i in range(n):
            s = s * 0.5 + helper(x)
        return s

    @sd.custom_jvp
    def softplus(x):
        return math.log(1.0 + math.exp(x))

    @softplus.defjvp
    def softplus_jvp(primals, tangents):
        x, = primals
        t, = tangents
        return math.log(1.0 + math.exp(x)), t * 0.5

    def uses_rule(x):
        return 2.0 * softplus(x)
''')

DRIVER = textwrap.dedent('''
    import sys
    sys.path.insert(0, sys.argv[1])
    import sourcediff as sd
    import user_constant
    from reliability_helpers import count
    g, r = sd.grad(user_constant.f), sd.grad(user_constant.uses_rule)
    values = [g(0.7, n) for n in eval(sys.argv[2])] + [r(0.3)]
    misses = [count(g.entry(("float", "int")), "cache_misses"), count(r.entry(("float",)), "cache_misses")]
    print(*map(repr, values), *misses)         # and functions compiled (not loaded) for g and for r
''')


def run_user(tmp_path, cache_path, ns="[10]"):
    out = subprocess.run([sys.executable, "-c", DRIVER, str(tmp_path), ns], env=env_for(cache_path),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    *values, misses_g, misses_r = out.stdout.split()
    return [float(v) for v in values], (int(misses_g) > 0, int(misses_r) > 0)


def expected_grad(scale, x, n):
    return scale * math.cos(x) * sum(0.5 ** i for i in range(n))


def test_editing_a_constant_or_a_rule_and_new_argument_kinds_across_processes(tmp_path):
    (tmp_path / "user_constant.py").write_text(USER)
    cache_path = tmp_path / "cache"
    before, compiled = run_user(tmp_path, cache_path)
    assert before == [pytest.approx(expected_grad(2.0, 0.7, 10), rel=1e-13), 1.0]
    assert compiled == (True, True)
    # n as a Python int, a NumPy int32 and a bool: one generated module (the same source), a
    # compiled specialisation each; a new process must not reuse one kind's code for another
    kinds, compiled = run_user(tmp_path, cache_path, "[10, __import__('numpy').int32(3), True]")
    assert kinds[0] == before[0] and kinds[3] == before[1]
    assert kinds[1] == pytest.approx(expected_grad(2.0, 0.7, 3), rel=1e-13)
    assert kinds[2] == pytest.approx(expected_grad(2.0, 0.7, 1), rel=1e-13)
    assert compiled == (True, False)                    # int32 and bool compiled; the rule's loaded
    (tmp_path / "user_constant.py").write_text(USER.replace("SCALE = 2.0", "SCALE = 3.0"))
    after, compiled = run_user(tmp_path, cache_path)
    assert after == [pytest.approx(expected_grad(3.0, 0.7, 10), rel=1e-13), 1.0]
    assert compiled == (True, False)                    # only f's code changed
    (tmp_path / "user_constant.py").write_text(USER.replace("SCALE = 2.0", "SCALE = 3.0")
                                               .replace("t * 0.5", "t * 0.25"))
    ruled, compiled = run_user(tmp_path, cache_path)
    assert ruled == [after[0], 0.5] and compiled == (False, True)   # only the rule changed


def test_kinds_that_change_the_code_give_another_module(cache):
    def f(x, y):
        return x * y + math.sin(x)
    out_i, vjp_i = sd.vjp(f, 2.0, 3, backend="numba")
    out_f, vjp_f = sd.vjp(f, 2.0, 3.0, backend="numba")
    assert out_i == out_f == 6.0 + math.sin(2.0)
    assert vjp_i(1.0) == (pytest.approx(3.0 + math.cos(2.0)), 0.0)          # an int has no cotangent
    assert vjp_f(1.0) == (pytest.approx(3.0 + math.cos(2.0)), 2.0)
    t = sd.api._cached(f, "vjp", "numba")
    a, b = t.entry(("float", "int")), t.entry(("float", "float"))
    assert a.source != b.source and "y_bar" in b.source and "y_bar" not in a.source
    assert module_of(t, ("float", "int")) is not module_of(t, ("float", "float"))


# ------------------------------------------------------------------ 2. cache robustness

RACE = textwrap.dedent('''
    import os, sys, time
    sys.path.insert(0, sys.argv[1])
    import sourcediff as sd
    import race_module
    open(sys.argv[2], "w").close()                      # imported: ready
    deadline = time.time() + 60
    while not os.path.exists(sys.argv[3]) and time.time() < deadline:
        time.sleep(0.002)
    g = sd.grad(race_module.f)
    value = g(0.7, 25)
    from reliability_helpers import count
    print(repr(value), count(g.entry(("float", "int")), "cache_misses"))
''')


def test_two_processes_compiling_the_same_function_at_once(tmp_path):
    (tmp_path / "race_module.py").write_text(
        "import math\n\ndef f(x, n):\n    s = 0.0\n    for i in range(n):\n"
        "        s = s * 0.9 + math.sin(x * s + x)\n    return s\n")
    cache_path, go = tmp_path / "cache", tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", RACE, str(tmp_path), str(tmp_path / f"ready{i}"), str(go)],
                              env=env_for(cache_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(2)]
    try:
        while not all((tmp_path / f"ready{i}").exists() for i in range(2)):
            assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
            threading.Event().wait(0.005)
        go.touch()                                    # both start compiling now
        outs = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            p.kill() if p.poll() is None else None
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
        assert "Warning" not in err, err
    values = [float(out.split()[0]) for out, _ in outs]
    assert values[0] == values[1]
    compiled = [int(out.split()[1]) for out, _ in outs]
    assert set(compiled) <= {0, 1} and 1 in compiled    # usually both compile: neither waits for the other
    # what the race left behind is whole: a third process loads it all, compiles nothing
    third = subprocess.run([sys.executable, "-c", RACE, str(tmp_path), str(tmp_path / "ready2"), str(go)],
                           env=env_for(cache_path), capture_output=True, text=True, timeout=120)
    assert third.returncode == 0 and "Warning" not in third.stderr, third.stderr
    assert third.stdout.split() == [repr(values[0]), "0"]
    assert not glob.glob(str(cache_path / "**" / "*.tmp*"), recursive=True)


def _damage(path, how):
    data = open(path, "rb").read()
    if how == "truncated":
        data = data[:len(data) // 2]
    elif how == "empty":
        data = b""
    else:                                             # bytes flipped in the middle
        middle = len(data) // 2
        data = data[:middle] + bytes(b ^ 0xFF for b in data[middle:middle + 32]) + data[middle + 32:]
    with open(path, "wb") as f:
        f.write(data)


@pytest.mark.parametrize("which", ["py", "nbi", "nbc"])
@pytest.mark.parametrize("how", ["truncated", "flipped", "empty"])
def test_a_damaged_cache_file_is_compiled_again_with_a_warning(cache, which, how):
    # Numba alone raises from inside the call (EOFError, UnpicklingError) for a truncated file
    # and aborts the process in LLVM for some flipped bytes; sourcediff checks a checksum first.
    model, _ = fresh_model()
    g = sd.grad(model, backend="numba")
    value = g(0.3)
    module = module_of(g, ("float",))
    assert compiles(module) == 1
    pattern = module.__name__ + (".py" if which == "py" else f".*.{which}")
    files = glob.glob(str(cache / ("" if which == "py" else "__pycache__") / pattern))
    assert files
    for path in files:
        _damage(path, how)
    forget(module)
    again = sd.grad(model, backend="numba")
    with pytest.warns(RuntimeWarning, match="damaged") as record:
        assert again(0.3) == value
    assert any(os.path.basename(files[0]) in str(w.message) for w in record)
    reloaded = module_of(again, ("float",))
    assert reloaded is not module and compiles(reloaded) == 1
    # and the cache healed: the next "process" loads it all without a word
    forget(reloaded)
    third = sd.grad(model, backend="numba")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert third(0.3) == value
    assert compiles(module_of(third, ("float",))) == 0 and loads(module_of(third, ("float",))) == 1


NEW_PROCESS = textwrap.dedent('''
    import sys
    sys.path.insert(0, sys.argv[1])
    import sourcediff as sd
    import reliability_helpers as h
    print(repr(h.grad_and_compiles(0.4, 12)))
''')


def test_a_truncated_compiled_file_in_a_new_process(tmp_path):
    cache_path = tmp_path / "cache"
    run = lambda: subprocess.run([sys.executable, "-c", NEW_PROCESS, HERE], env=env_for(cache_path),
                                 capture_output=True, text=True, timeout=120)
    first = run()
    assert first.returncode == 0, first.stderr
    value, compiled = eval(first.stdout)
    assert compiled == 1 and value == pytest.approx(sd.grad(helpers.model, backend="python")(0.4, 12), rel=1e-12)
    for path in glob.glob(str(cache_path / "__pycache__" / "*.nbc")):
        _damage(path, "truncated")
    second = run()
    assert second.returncode == 0, second.stderr
    assert eval(second.stdout) == (value, 1)
    assert "RuntimeWarning: sourcediff: damaged compiled-code cache file" in second.stderr
    assert "checksum" in second.stderr and "Traceback" not in second.stderr


def test_cache_dir_is_chosen_by_the_environment_and_private(cache):
    model, _ = fresh_model()
    g = sd.grad(model, backend="numba")
    g(0.5)
    assert module_of(g, ("float",)).__file__.startswith(str(cache))
    assert stat.S_IMODE(os.stat(cache).st_mode) == 0o700
    for path in glob.glob(str(cache / "**" / "sd_*"), recursive=True):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path      # every file private too


def test_only_generated_functions_get_checked_cache_files(cache):
    from numba.core.caching import FunctionCache
    from sourcediff.backends import numba_runtime
    model, _ = fresh_model()
    g = sd.grad(model, backend="numba")
    g(0.5)
    module = module_of(g, ("float",))
    mine = [v for v in vars(module).values() if getattr(getattr(v, "py_func", None), "__module__", "") ==
            module.__name__ and hasattr(v, "_cache")]
    assert mine and all(type(v._cache).__name__ == "GuardedCache" for v in mine)
    # runtime helpers imported into the module keep Numba's own files (in the package directory)
    for helper in (numba_runtime.reserve, getattr(numba_runtime, "breakpoint", numba_runtime.reserve)):
        assert type(helper._cache) is FunctionCache


@pytest.mark.parametrize("how", ["missing", "read-only"])
def test_an_unusable_cache_directory_compiles_in_memory(tmp_path, monkeypatch, how):
    if how == "missing":
        (tmp_path / "a-file").write_text("")
        path = tmp_path / "a-file" / "cache"             # cannot be created
    elif IS_ROOT:
        if not os.path.isdir("/proc/self"):
            pytest.skip("root writes to any directory mode allows; needs /proc")
        path = "/proc/self"                             # a directory even root cannot write to
    else:
        path = tmp_path / "read-only"
        path.mkdir(mode=0o500)
    monkeypatch.setenv("SOURCEDIFF_CACHE_DIR", str(path))
    model, c = fresh_model()
    g = sd.grad(model, backend="numba")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = g(0.25)
    assert value == pytest.approx(numerical(model, 0.25), rel=1e-7)
    module = module_of(g, ("float",))
    assert module.__file__.startswith("<sourcediff ") and compiles(module) == 1
    assert "@njit(" in g.source           # the source shown is still the one that runs


# ------------------------------------------------------------------ 3. cache safety

def test_a_cache_directory_others_can_write_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "shared"
    path.mkdir()
    os.chmod(path, 0o770)
    monkeypatch.setenv("SOURCEDIFF_CACHE_DIR", str(path))
    model, _ = fresh_model()
    g = sd.grad(model, backend="numba")
    with pytest.warns(RuntimeWarning, match="other users can write to it"):
        assert g(0.5) == pytest.approx(numerical(model, 0.5), rel=1e-7)
    assert module_of(g, ("float",)).__file__.startswith("<sourcediff ")
    assert os.listdir(path) == []                       # nothing written there


@pytest.mark.skipif(not IS_ROOT, reason="giving a directory to another user needs root")
def test_a_cache_directory_of_another_user_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "theirs"
    path.mkdir(mode=0o700)
    os.chown(path, OTHER_UID, -1)
    monkeypatch.setenv("SOURCEDIFF_CACHE_DIR", str(path))
    model, _ = fresh_model()
    with pytest.warns(RuntimeWarning, match="belongs to another user"):
        sd.grad(model, backend="numba")(0.5)
    assert os.listdir(path) == []


def _populated(cache):
    """A compiled, cached module and the function behind it, forgotten as if by a new process."""
    model, _ = fresh_model()
    g = sd.grad(model, backend="numba")
    value = g(0.6)
    module = module_of(g, ("float",))
    forget(module)
    pycache = cache / "__pycache__"
    return model, value, module.__name__, cache / (module.__name__ + ".py"), \
        sorted(glob.glob(str(pycache / (module.__name__ + ".*.nbi")))), \
        sorted(glob.glob(str(pycache / (module.__name__ + ".*.nbc"))))


def _make_unsafe(path, how):
    if how == "writable by others":
        os.chmod(path, 0o602)
    elif how == "writable by the group":
        os.chmod(path, 0o620)
    elif how == "another user's":
        os.chown(path, OTHER_UID, -1)
    elif how == "a symbolic link":
        real = str(path) + ".elsewhere"
        os.rename(path, real)
        os.symlink(real, path)


UNSAFE = ["writable by others", "writable by the group", "a symbolic link",
          pytest.param("another user's", marks=pytest.mark.skipif(not IS_ROOT, reason="chown needs root"))]
REASONS = {"writable by others": "other users can write to it", "writable by the group": "other users can write",
           "a symbolic link": "symbolic link", "another user's": "belongs to another user"}


@pytest.mark.parametrize("how", UNSAFE)
def test_a_generated_module_file_not_safely_ours_is_not_imported(cache, how):
    model, value, name, py, _, _ = _populated(cache)
    _make_unsafe(py, how)
    g = sd.grad(model, backend="numba")
    with pytest.warns(RuntimeWarning, match=f"not loading {re.escape(str(py))}: .*{REASONS[how]}.*in memory"):
        assert g(0.6) == value
    module = module_of(g, ("float",))
    assert module.__file__.startswith("<sourcediff ") and compiles(module) == 1


@pytest.mark.parametrize("which", ["nbi", "nbc"])
@pytest.mark.parametrize("how", UNSAFE)
def test_compiled_code_not_safely_ours_is_not_loaded(cache, which, how):
    model, value, name, py, nbi, nbc = _populated(cache)
    for path in (nbi if which == "nbi" else nbc):
        _make_unsafe(path, how)
    g = sd.grad(model, backend="numba")
    with pytest.warns(RuntimeWarning, match=f"not loading compiled code {re.escape(name)}.*: .*{REASONS[how]}"
                                            ".*compiling in memory"):
        assert g(0.6) == value
    module = module_of(g, ("float",))
    assert module.__file__ == str(py) and compiles(module) == 1 and loads(module) == 0


# ------------------------------------------------------------------ 4. threads

def test_eight_threads_transform_and_compile_one_function_once(cache):
    model, _ = fresh_model()
    xs = [0.1 * (i + 1) for i in range(8)]
    barrier, results, errors, transformed = threading.Barrier(8), {}, [], {}

    def work(i):
        try:
            barrier.wait()
            transformed[i] = sd.grad(model, backend="numba")      # each thread transforms it too
            results[i] = transformed[i](xs[i])
        except BaseException as e:                                 # pragma: no cover - reported below
            errors.append(e)
    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors and not any(t.is_alive() for t in threads)
    for i, x in enumerate(xs):
        assert results[i] == pytest.approx(numerical(model, x), rel=1e-6)
    assert results[0] == pytest.approx(sd.grad(model, backend="python")(xs[0]), rel=1e-14)
    mods = {id(module_of(transformed[i], ("float",))) for i in range(8)}
    assert len(mods) == 1
    module = module_of(transformed[0], ("float",))
    assert compiles(module) == 1                     # one compile (of the vjp), shared by all


NESTED_THREADS = textwrap.dedent('''
    import math, sys, threading, time
    import sourcediff as sd

    def make(c):
        def model(x):
            s = x
            for i in range(4):
                s = c * math.sin(s) + x * s
            return s
        return model

    for round in range(4):                 # fresh, unbuilt transforms each round
        inner = sd.grad(make(1.5 + round), backend="python")

        def uses_inner(x):
            return inner(x) * x
        outer = sd.grad(uses_inner, backend="python")
        barrier, results = threading.Barrier(8), {}

        def work(i):
            barrier.wait()
            results[i] = (outer if i % 2 else inner)(0.4)
        threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(8)]
        for t in threads:
            t.start()
        deadline = time.time() + 20
        for t in threads:
            t.join(max(0.0, deadline - time.time()))
        if any(t.is_alive() for t in threads):
            print("deadlock in round", round)
            sys.exit(3)
        h = 1e-5
        expected = (inner(0.4 + h) * (0.4 + h) - inner(0.4 - h) * (0.4 - h)) / (2 * h)
        print(repr(([float(results[i]) for i in range(8)], float(inner(0.4)), float(expected))))
''')


def test_threads_on_nested_transforms_do_not_deadlock(tmp_path):
    # typing uses_inner (under the program's lock) asks `inner` for its code (its lock), while a
    # thread building `inner` holds its lock and asks for the program's: with a lock per
    # transformed function this deadlocked (measured); builds now share one lock
    (tmp_path / "nested_threads.py").write_text(NESTED_THREADS)      # a file: sourcediff reads the source
    out = subprocess.run([sys.executable, str(tmp_path / "nested_threads.py")], env=env_for(tmp_path / "cache"),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 4
    for line in lines:
        results, first, second = eval(line)
        assert results[0::2] == [first] * 4
        assert results[1::2] == [pytest.approx(second, rel=1e-6)] * 4


# ------------------------------------------------------------------ 5. bad input at call time

def weighted(x, a):
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * x * x
    return s


def first_row(x, a):
    return a[0, 1] * x


def rows(x, a):
    return x * a.shape[0]


BACKENDS = ["python", "numba"]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("bad, message", [
    ((2.0, [1.0, 2.0]), "argument `a` is list; expected a NumPy array of floats, ints or bools "
                        "(the last call passed float64[:]); convert it with np.asarray(a)"),
    ((2.0 + 1j, np.ones(3)), "argument `x` is complex (sourcediff differentiates real-valued code); "
                             "expected a float, as in the last call"),
    (("2.0", np.ones(3)), "argument `x` is str; expected a float, as in the last call"),
    ((None, np.ones(3)), "argument `x` is None; expected a float, as in the last call"),
    ((2.0, np.ones(3, dtype=complex)), "argument `a` is a NumPy array of complex128; expected a NumPy array"),
    ((2.0, np.array(["a", "b"])), "argument `a` is a NumPy array of <U1; expected a NumPy array"),
])
def test_arguments_of_the_wrong_kind(cache, backend, bad, message):
    g = sd.grad(weighted, backend=backend)
    assert g(2.0, np.ones(3)) == 12.0
    with pytest.raises(TypeError) as e:
        g(*bad)
    assert str(e.value).startswith("weighted_grad: " + message)
    assert g(2.0, np.ones(3)) == 12.0                  # still works


@pytest.mark.parametrize("backend", BACKENDS)
def test_wrong_kinds_before_any_call_and_through_other_transforms(cache, backend):
    with pytest.raises(TypeError, match=r"^weighted_grad: argument `a` is list; expected a float, int, bool "
                                        r"or NumPy array of them; convert it with np.asarray\(a\)$"):
        sd.grad(weighted, backend=backend)(2.0, [1.0])
    with pytest.raises(TypeError, match="argument `x` is str"):
        sd.jvp(weighted, ("1", np.ones(2)), (1.0, np.ones(2)), backend=backend)
    with pytest.raises(TypeError, match="argument `x` is complex"):
        sd.vjp(weighted, 1j, np.ones(2), backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_int_where_grad_needs_a_float(cache, backend):
    with pytest.raises(sd.TransformError) as e:
        sd.grad(weighted, backend=backend)(2, np.ones(3))
    assert isinstance(e.value, TypeError)
    assert "argument `x` of weighted is int" in str(e.value) and "Pass a float (e.g. x=1.0)" in str(e.value)
    assert "test_reliability.py" in str(e.value)


def test_an_int_too_large_for_compiled_code(cache):
    with pytest.raises(TypeError, match=r"^model_grad: argument `n` is an int that does not fit in 64 bits "
                                        r"\(1180591620717411303424\); compiled code takes 64-bit integers$"):
        sd.grad(helpers.model, backend="numba")(0.5, 2 ** 70)


@pytest.mark.parametrize("backend", BACKENDS)
def test_another_number_of_dimensions_is_another_specialisation(cache, backend):
    g = sd.grad(rows, backend=backend)
    assert g(2.0, np.ones(3)) == 3.0
    assert g(2.0, np.ones((5, 2))) == 5.0                    # compiled again for 2-D arrays
    assert g(2.0, np.ones(3)) == 3.0
    assert len(g._entries) == 2


@pytest.mark.parametrize("backend", BACKENDS)
def test_indexing_with_the_wrong_number_of_indices(cache, backend):
    with pytest.raises(sd.TransformError) as e:
        sd.grad(first_row, backend=backend)(2.0, np.ones(3))
    assert "test_reliability.py" in str(e.value) and "return a[0, 1] * x" in str(e.value)
    assert "indexes 2 dimension(s) of a 1-dimensional array" in str(e.value)
    # a[i] of a 2-D array is a row: adding it to a float names both kinds
    with pytest.raises(sd.TransformError, match=r"`s` holds values of different kinds \(float and float64\[:\]\)"):
        sd.grad(weighted, backend=backend)(2.0, np.ones((2, 2)))
    assert sd.grad(first_row, backend=backend)(2.0, np.arange(4.0).reshape(2, 2)) == 1.0


NAN = textwrap.dedent('''
    import math, sys
    sys.path.insert(0, sys.argv[1])
    import sourcediff as sd
    import reliability_helpers as h
    nan, inf = float("nan"), float("inf")
    for backend in ("python", "numba"):
        for f in (h.halve_until_small, h.settle):
            g = sd.grad(f, backend=backend)
            vg = sd.value_and_grad(f, backend=backend)
            jvp = sd.jvp(f, (nan,), (1.0,), backend=backend)
            pair = lambda t: tuple(map(float, t))
            # -inf for settle on the numba backend only: the Python backend's generated code calls
            # math.sin, which raises for inf where np.sin in the primal gives NaN
            minus_inf = float(g(-inf)) if backend == "numba" or f is h.halve_until_small else -inf
            print(backend, f.__name__, (float(g(nan)), minus_inf, pair(vg(nan)), pair(jvp), float(g(10.0))))
''')


def test_nan_and_inf_through_while_loops_do_not_hang(tmp_path):
    out = subprocess.run([sys.executable, "-c", NAN, HERE], env=env_for(tmp_path / "cache"),
                         capture_output=True, text=True, timeout=150)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 4
    finite = {}
    for line in lines:
        backend, name, rest = line.split(" ", 2)
        nan_grad, inf_grad, value_and_grad, jvp, finite[backend, name] = \
            eval(rest, {"nan": math.nan, "inf": math.inf})
        assert math.isnan(nan_grad)                                  # IEEE: NaN in, NaN out
        assert math.isnan(value_and_grad[0]) and math.isnan(value_and_grad[1])
        assert math.isnan(jvp[0]) and math.isnan(jvp[1])
        assert inf_grad == -math.inf                                 # no iteration: d(x * x) = 2x
    assert finite["python", "halve_until_small"] == finite["numba", "halve_until_small"] == 2 * 0.625 / 16
    assert finite["numba", "settle"] == pytest.approx(finite["python", "settle"], rel=1e-9, abs=1e-15)


# ------------------------------------------------------------------ 6. across processes

def test_transformed_functions_pickle_by_reference(cache):
    for t, args in [(sd.grad(helpers.model), (0.3, 7)),
                    (sd.value_and_grad(helpers.model, backend="python"), (0.3, 7)),
                    (sd.jit(helpers.model), (0.3, 7)),
                    (sd.hessian(helpers.halve_until_small), (3.0,))]:
        data = pickle.dumps(t)
        assert b"reliability_helpers" in data and b"range" not in data and len(data) < 1000
        back = pickle.loads(data)
        assert type(back) is type(t) and back.__name__ == t.__name__ and back.mode == t.mode
        assert back(*args) == t(*args)
    local = lambda x: x * x         # noqa: E731 - a lambda pickles no better than with pickle itself
    with pytest.raises((pickle.PicklingError, AttributeError)):
        pickle.dumps(sd.grad(local))


def test_spawn_pool(cache):
    g = sd.grad(helpers.pool_model)
    xs = [0.1 * i for i in range(1, 7)]
    expected = [g(x, 12) for x in xs]                   # compiled here, into the disk cache
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        direct = pool.starmap(g, [(x, 12) for x in xs])  # the transformed function itself, pickled
        counted = pool.starmap(helpers.grad_and_compiles, [(x, 12, "pool_model") for x in xs])
    assert direct == expected
    assert [v for v, _ in counted] == expected
    assert [c for _, c in counted] == [0] * len(xs)     # loaded from the disk cache, not compiled


def test_dask_example_without_dask_says_what_to_install():
    code = ("import sys, runpy; sys.modules['dask'] = sys.modules['distributed'] = None; "
            "sys.modules['dask.distributed'] = None; "
            f"runpy.run_path({os.path.join(ROOT, 'examples', 'dask_sweep.py')!r}, run_name='__main__')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "needs dask.distributed" in out.stdout and "pip install -e '.[dask]'" in out.stdout


def test_dask_sweep_example(tmp_path):
    pytest.importorskip("distributed")
    out = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "dask_sweep.py")],
                         env=env_for(tmp_path / "cache"), capture_output=True, text=True, timeout=240, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert "8 gradients from 2 worker processes" in out.stdout     # and the example's own checks passed
    rows = [list(map(float, line.split())) for line in out.stdout.splitlines()[1:9]]
    assert [round(r[0], 2) for r in rows] == [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
    assert rows[-1][1:] == pytest.approx([0.3863951638, -0.9878637032, 0.1931358770], abs=2e-10)
