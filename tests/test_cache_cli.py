"""The on-disk cache across processes, and the command line."""
import os
import subprocess
import sys
import textwrap

import pytest

USER_MODULE = textwrap.dedent('''
    import math

    def helper(a, b):
        return a * math.exp(-b)

    def f(x, n):
        s = 0.0
        for i in range(n):
            s = s * 0.9 + helper(x, s)
        return s
''')

DRIVER = textwrap.dedent('''
    import sys, time
    sys.path.insert(0, sys.argv[1])
    import sourcediff as sd
    import user_module
    g = sd.grad(user_module.f)
    value = g(0.7, 20)
    entry = g.entry(("float", "int")).function.py_func
    vjp = sys.modules[entry.__module__].f_vjp
    hits = sum(vjp.stats.cache_hits.values())
    misses = sum(vjp.stats.cache_misses.values())
    print(repr(value), hits, misses, entry.__code__.co_filename)
''')


def run_driver(tmp_path, cache):
    env = dict(os.environ, SOURCEDIFF_CACHE_DIR=str(cache), SOURCEDIFF_BACKEND="numba")
    out = subprocess.run([sys.executable, "-c", DRIVER, str(tmp_path)], env=env, capture_output=True,
                         text=True, check=True)
    value, hits, misses, filename = out.stdout.split()
    return float(value), int(hits), int(misses), filename


def test_second_process_loads_compiled_code_from_disk(tmp_path):
    (tmp_path / "user_module.py").write_text(USER_MODULE)
    cache = tmp_path / "cache"
    first = run_driver(tmp_path, cache)
    second = run_driver(tmp_path, cache)
    assert first[0] == second[0]
    assert first[2] > 0 and first[1] == 0        # compiled
    assert second[1] > 0 and second[2] == 0      # loaded, nothing compiled
    assert first[3] == second[3] and first[3].startswith(str(cache))
    assert oct(os.stat(cache).st_mode & 0o777) == oct(0o700)


def test_editing_a_callee_changes_the_result(tmp_path):
    (tmp_path / "user_module.py").write_text(USER_MODULE)
    cache = tmp_path / "cache"
    before = run_driver(tmp_path, cache)
    (tmp_path / "user_module.py").write_text(USER_MODULE.replace("math.exp(-b)", "math.exp(-2.0 * b)"))
    after = run_driver(tmp_path, cache)
    assert before[0] != after[0] and after[2] > 0


RECURSIVE = textwrap.dedent('''
    import sys
    sys.path.insert(0, sys.argv[1])
    import sourcediff as sd
    from user_recursive import power3
    print(sd.grad(power3)(0.5), sd.hessian(power3)(0.5))
''')


def test_recursive_functions_across_processes(tmp_path):
    # Numba 0.68 crashes loading recursive functions from its cache; such modules must not use it.
    (tmp_path / "user_recursive.py").write_text(
        "def rpow(x, n):\n    if n == 0:\n        return 1.0\n    return x * rpow(x, n - 1)\n\n"
        "def power3(x):\n    return rpow(x, 3)\n")
    env = dict(os.environ, SOURCEDIFF_CACHE_DIR=str(tmp_path / "cache"), SOURCEDIFF_BACKEND="numba")
    for _ in range(2):
        out = subprocess.run([sys.executable, "-c", RECURSIVE, str(tmp_path)], env=env,
                             capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        assert out.stdout.split() == ["0.75", "3.0"]


def cli(*args):
    return subprocess.run([sys.executable, "-m", "sourcediff", *args], capture_output=True, text=True)


@pytest.mark.parametrize("mode, signature", [
    ("grad", "def f_grad(x, n):"), ("vjp", "def f_vjp(x, n, s_out_bar):"),
    ("jvp", "def f_jvp(x, n, x_dot):"), ("jit", "def f(x, n):")])
def test_cli_show(tmp_path, mode, signature):
    (tmp_path / "user_module.py").write_text(USER_MODULE)
    out = cli("show", f"{tmp_path / 'user_module.py'}:f", "--mode", mode)
    assert out.returncode == 0, out.stderr
    assert signature in out.stdout
    compile(out.stdout, "shown", "exec")


def test_cli_reports_transform_errors(tmp_path):
    (tmp_path / "bad.py").write_text("def f(x):\n    return {x, 1.0}\n")
    out = cli("show", f"{tmp_path / 'bad.py'}:f")
    assert out.returncode == 1
    assert "line 2" in out.stderr and "sets are not supported" in out.stderr


def test_cli_unknown_function(tmp_path):
    (tmp_path / "user_module.py").write_text(USER_MODULE)
    out = cli("show", f"{tmp_path / 'user_module.py'}:nope")
    assert out.returncode != 0 and "has no function 'nope'" in out.stderr


def test_cli_cache_info_and_clear(tmp_path):
    (tmp_path / "user_module.py").write_text(USER_MODULE)
    cache = tmp_path / "cache"
    run_driver(tmp_path, cache)
    env = dict(os.environ, SOURCEDIFF_CACHE_DIR=str(cache))
    info = subprocess.run([sys.executable, "-m", "sourcediff", "cache", "info"], env=env,
                          capture_output=True, text=True, check=True).stdout
    assert f"cache directory: {cache}" in info and "1 generated modules" in info
    assert "grad of f (from user_module.py)" in info
    cleared = subprocess.run([sys.executable, "-m", "sourcediff", "cache", "clear"], env=env,
                             capture_output=True, text=True, check=True).stdout
    assert cleared.startswith("removed ")
    assert not [p for p in cache.rglob("sd_*")]
    assert run_driver(tmp_path, cache)[2] > 0      # compiles again
