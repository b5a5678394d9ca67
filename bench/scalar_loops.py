#!/usr/bin/env python
"""Benchmark: sourcediff on long scalar loops, and its first-call (compile) cost.

Usage::

    python bench/scalar_loops.py           # full run (about a minute)
    python bench/scalar_loops.py --quick   # fewer repetitions

Problems (all differentiated by ``sd.grad`` and ``sd.jvp``, run with ``sd.jit``):

1. ``recurrence``: 10**6 steps of ``s = s * a + sin(x * s)``, w.r.t. ``x`` and ``a``.
2. ``horner``: Horner's rule over 10**6 coefficients given as an (inactive)
   NumPy array, w.r.t. ``x``.
3. ``rk4``: 10**5 classical Runge-Kutta steps of ``dy/dt = -k*y + sin(w*t)``,
   w.r.t. ``k``, ``w`` and the initial value ``y0``.

Each time is the median of repeated runs after warm-up (``time.perf_counter``);
the primal, grad and jvp calls are interleaved round by round so that drift in
machine load affects them alike.  Times are given both for the public call
(``sd.jit(f)(...)``, ``sd.grad(f)(...)``, ``sd.jvp(f, primals, tangents)``) and
for the compiled Numba dispatcher underneath it (no argument binding or result
reshaping); the targets are judged on the compiled ratios.

Then the first call of ``grad`` on a ~20-line function is timed in fresh
subprocesses: cold (empty ``SOURCEDIFF_CACHE_DIR``) and again reusing that cache
directory, next to plain ``numba.njit`` of the same function as a baseline.

This is a report, not a test: it asserts nothing.
"""
import argparse
import gc
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

TARGETS = {"grad/primal": 3.0, "jvp/primal": 2.0, "cold first call (s)": 3.0,
           "warm first call (s)": 0.5}


# ----------------------------------------------------------------------------- problems

def recurrence(x, a, n):
    s = 0.5
    for i in range(n):
        s = s * a + math.sin(x * s)
    return s


def horner(x, c):
    s = 0.0
    for i in range(c.shape[0]):
        s = s * x + c[i]
    return s


def rk4(k, w, y0, n):
    dt = 10.0 / n
    y = y0
    t = 0.0
    for i in range(n):
        k1 = -k * y + math.sin(w * t)
        k2 = -k * (y + 0.5 * dt * k1) + math.sin(w * (t + 0.5 * dt))
        k3 = -k * (y + 0.5 * dt * k2) + math.sin(w * (t + 0.5 * dt))
        k4 = -k * (y + dt * k3) + math.sin(w * (t + dt))
        y = y + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        t = t + dt
    return y


def problems():
    """(name, function, args, argnums, jvp tangents, description)"""
    coeffs = np.random.default_rng(0).standard_normal(10**6)
    return [
        ("recurrence", recurrence, (0.7, 0.5, 10**6), (0, 1), (1.0, 0.5, 0),
         "10^6 steps, d/d(x, a)"),
        ("horner", horner, (0.999, coeffs), 0, (1.0, np.zeros_like(coeffs)),
         "10^6 coefficients, d/dx"),
        ("rk4", rk4, (0.3, 2.0, 1.0, 10**5), (0, 1, 2), (1.0, 0.5, 0.25, 0),
         "10^5 steps, d/d(k, w, y0)"),
    ]


# ----------------------------------------------------------------------------- timing

def interleaved_medians(calls, reps, warmup):
    """Median seconds of each zero-argument callable in ``calls``, run round-robin."""
    for _ in range(warmup):
        for fn in calls.values():
            fn()
    samples = {name: [] for name in calls}
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(reps):
            for name, fn in calls.items():
                t0 = time.perf_counter()
                fn()
                samples[name].append(time.perf_counter() - t0)
    finally:
        if gc_was_enabled:
            gc.enable()
    return {name: statistics.median(s) for name, s in samples.items()}, samples


def raw(function):
    """The Numba dispatcher under a sourcediff entry function (skips its error wrapper)."""
    return getattr(function, "dispatcher", function)


def compiled(transformed, args, fallback):
    """The compiled function of ``transformed`` for ``args``; ``fallback`` where sourcediff's
    internals (``bind``/``kinds``/``entry``) are not available."""
    try:
        return raw(transformed.entry(transformed.kinds(transformed.bind(args, {}))).function)
    except Exception as e:  # an internal API that moved: time the public call instead
        FALLBACKS.append(f"{getattr(transformed, '__name__', transformed)}: {type(e).__name__}: {e}")
        return fallback


def jvp_compiled(sd, f, args, tangents):
    """(compiled jvp function, its float tangents), or a closure over ``sd.jvp``."""
    try:
        jt = sd.api._cached(f, "jvp", None)
        kinds = jt.kinds(jt.bind(args, {}))
        floats = tuple(t if isinstance(t, np.ndarray) else float(t)          # float numbers and arrays
                       for t, k in zip(tangents, kinds) if sd.kinds.is_float(k))
        return raw(jt.entry(kinds).function), floats, jt.source
    except Exception as e:
        FALLBACKS.append(f"jvp of {f.__name__}: {type(e).__name__}: {e}")
        return (lambda *a: sd.jvp(f, args, tangents)), (), "(unavailable)"


FALLBACKS = []


def as_tuple(value):
    return value if isinstance(value, tuple) else (value,)


def run_problem(sd, name, f, args, argnums, tangents, reps, warmup):
    jitted = sd.jit(f)
    grad = sd.grad(f, argnums=argnums)
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)

    # first calls (compile, or load from the on-disk cache)
    t0 = time.perf_counter()
    value = jitted(*args)
    t1 = time.perf_counter()
    g = as_tuple(grad(*args))
    t2 = time.perf_counter()
    jvp_out, jvp_tan = sd.jvp(f, args, tangents)
    t3 = time.perf_counter()
    first = {"primal": t1 - t0, "grad": t2 - t1, "jvp": t3 - t2}

    # the compiled entries under the API objects
    primal_fn = compiled(jitted, args, jitted)
    grad_fn = compiled(grad, args, grad)
    jvp_fn, float_tangents, jvp_source = jvp_compiled(sd, f, args, tangents)

    calls = {
        "primal_api": lambda: jitted(*args),
        "primal_fn": lambda: primal_fn(*args),
        "grad_api": lambda: grad(*args),
        "grad_fn": lambda: grad_fn(*args),
        "jvp_api": lambda: sd.jvp(f, args, tangents),
        "jvp_fn": lambda: jvp_fn(*args, *float_tangents),
    }
    med, samples = interleaved_medians(calls, reps, warmup)

    # sanity (printed, not asserted): grad vs central differences of the primal,
    # jvp's tangent vs grad . tangent, jvp's primal vs jit's primal.
    fd = []
    for i in nums:
        h = 1e-6 * max(1.0, abs(args[i]))
        plus = list(args)
        minus = list(args)
        plus[i] += h
        minus[i] -= h
        fd.append((jitted(*plus) - jitted(*minus)) / (2 * h))
    fd_err = max(abs(a - b) / max(1e-12, abs(b)) for a, b in zip(g, fd))
    float_idx = [i for i, a in enumerate(args) if isinstance(a, float)]
    full = dict(zip(nums, g))
    dot = sum(full.get(i, 0.0) * tangents[i] for i in float_idx if i in full)
    uncovered = [i for i in float_idx if i not in full and tangents[i] != 0.0]
    check = {
        "value": value,
        "grad": g,
        "fd_rel_err": fd_err,
        "jvp_primal_matches": jvp_out == value,
        "jvp_tangent": jvp_tan,
        "grad_dot_tangent": None if uncovered else dot,
    }
    spread = {k: (min(v), statistics.quantiles(v, n=4)[2] if len(v) > 1 else v[0])
              for k, v in samples.items()}
    return {"name": name, "median": med, "spread": spread, "first": first, "check": check,
            "grad_source": grad.source, "jvp_source": jvp_source}


def call_overhead(sd, f, args, argnums, tangents, number):
    """Microseconds per call of each entry point on a tiny input (the loop body runs once)."""
    jitted, grad = sd.jit(f), sd.grad(f, argnums=argnums)
    jitted(*args), grad(*args), sd.jvp(f, args, tangents)
    primal_fn = compiled(jitted, args, jitted)
    grad_fn = compiled(grad, args, grad)
    jvp_fn, floats, _ = jvp_compiled(sd, f, args, tangents)
    calls = {
        "primal_api": lambda: jitted(*args), "primal_fn": lambda: primal_fn(*args),
        "grad_api": lambda: grad(*args), "grad_fn": lambda: grad_fn(*args),
        "jvp_api": lambda: sd.jvp(f, args, tangents), "jvp_fn": lambda: jvp_fn(*args, *floats),
    }
    out = {}
    for name, fn in calls.items():
        best = float("inf")
        for _ in range(5):
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            best = min(best, (time.perf_counter() - t0) / number)
        out[name] = best * 1e6
    return out


# ----------------------------------------------------------------------------- cold start

COLD_FUNCTION = '''\
import math


def model(x, y, n):
    s = 0.0
    p = x
    for i in range(n):
        if p > 1.0:
            p = p * 0.5
        else:
            p = p + y * math.cos(p)
        s += math.exp(-p * p) * y
        t = math.sqrt(1.0 + p * p)
        s = s + math.log(t) / (1.0 + i)
    q = s * s + x * y
    r = math.tanh(q) if q < 10.0 else 1.0
    w = 0.0
    k = 0
    while k < 3:
        w = w + r * x ** k
        k += 1
    return w + math.atan2(s, 1.0 + y * y)
'''

# Runs in a fresh interpreter: argv = [mode, directory holding coldfn.py].
CHILD = '''\
import json, sys, time
mode, where = sys.argv[1], sys.argv[2]
T = {}
t = time.perf_counter(); import numpy; T["import_numpy"] = time.perf_counter() - t
t = time.perf_counter(); import numba; T["import_numba"] = time.perf_counter() - t
if mode == "grad":
    t = time.perf_counter(); import sourcediff as sd; T["import_sourcediff"] = time.perf_counter() - t
sys.path.insert(0, where)
import coldfn
args = (0.3, 0.7, 50)
from numba.core import event


class Compiles(event.Listener):
    """Inclusive seconds of each Numba compilation (nested ones are inside their callers)."""
    def __init__(self):
        self.started, self.done = {}, []

    def on_start(self, ev):
        self.started[id(ev.data["dispatcher"])] = time.perf_counter()

    def on_end(self, ev):
        d = ev.data["dispatcher"]
        self.done.append([d.py_func.__module__.split("_")[0] + "." + d.py_func.__qualname__
                          + str(ev.data["args"]), time.perf_counter() - self.started.pop(id(d))])


compiles = Compiles()
event.register("numba:compile", compiles)
if mode == "grad":
    g = sd.grad(coldfn.model, argnums=(0, 1))
    t0 = time.perf_counter()
    try:
        g.entry(g.kinds(g.bind(args, {})))  # transform + generate + import the module
        split = True
    except Exception:                       # internals moved: no breakdown
        split = False
    t1 = time.perf_counter()
    result = g(*args)                       # Numba: compile, or load from its cache
    t2 = time.perf_counter()
    T["first_call"] = t2 - t0
    if split:
        T["generate"], T["compile"] = t1 - t0, t2 - t1
else:
    f = numba.njit(cache=True)(coldfn.model)
    t0 = time.perf_counter()
    result = f(*args)
    T["first_call"] = time.perf_counter() - t0
t = time.perf_counter(); (g if mode == "grad" else f)(*args); T["second_call"] = time.perf_counter() - t
T["result"] = result
T["compiles"] = sorted(compiles.done, key=lambda c: -c[1])[:6]
print(json.dumps(T))
'''


def child(mode, where, env_updates):
    env = dict(os.environ)
    env.pop("NUMBA_CACHE_DIR", None)
    env.pop("SOURCEDIFF_CACHE_DIR", None)
    env.update(env_updates)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CHILD, mode, where], env=env,
                          capture_output=True, text=True, timeout=300)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else
                f"exit {proc.returncode}", "stderr": proc.stderr}
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["process_wall"] = wall
    return out


def median_of(runs, key):
    values = [r[key] for r in runs if key in r]
    return statistics.median(values) if values else float("nan")


def cold_start(warm_reps):
    root = tempfile.mkdtemp(prefix="sd-bench-")
    try:
        src = os.path.join(root, "src")
        os.makedirs(src)
        with open(os.path.join(src, "coldfn.py"), "w") as fh:
            fh.write(COLD_FUNCTION)
        out = {}
        # (a) as the brief asks: an empty SOURCEDIFF_CACHE_DIR; Numba's own cache of
        #     sourcediff's runtime helpers (in the package's __pycache__) is whatever is on disk.
        env_a = {"SOURCEDIFF_CACHE_DIR": os.path.join(root, "sd_a")}
        out["a_cold"] = [child("grad", src, env_a)]
        out["a_warm"] = [child("grad", src, env_a) for _ in range(warm_reps)]
        # (b) a first-time user: NUMBA_CACHE_DIR empty too (runtime helpers compile as well).
        env_b = {"SOURCEDIFF_CACHE_DIR": os.path.join(root, "sd_b"),
                 "NUMBA_CACHE_DIR": os.path.join(root, "nb_b")}
        out["b_cold"] = [child("grad", src, env_b)]
        out["b_warm"] = [child("grad", src, env_b) for _ in range(warm_reps)]
        # baseline: plain numba.njit(cache=True) of the same (primal) function
        env_n = {"NUMBA_CACHE_DIR": os.path.join(root, "nb_plain")}
        out["numba_cold"] = [child("numba", src, env_n)]
        out["numba_warm"] = [child("numba", src, env_n) for _ in range(warm_reps)]
        return out
    finally:
        shutil.rmtree(root, ignore_errors=True)


# ----------------------------------------------------------------------------- report

def ms(seconds):
    return f"{seconds * 1e3:.2f}"


def mark(ok):
    return "yes" if ok else "**NO**"


def report_loops(results):
    print("\n## Loop benchmarks (median of repeated runs after warm-up)\n")
    print("Times in ms. *compiled* = the Numba dispatcher under the sourcediff object; "
          "*API* = the public call (argument binding, kinds, result shaping included).\n")
    print("| problem | size | primal compiled | primal API | grad compiled | grad API "
          "| jvp compiled | jvp API |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        m = r["median"]
        print(f"| {r['name']} | {r['desc']} | {ms(m['primal_fn'])} | {ms(m['primal_api'])} "
              f"| {ms(m['grad_fn'])} | {ms(m['grad_api'])} | {ms(m['jvp_fn'])} | {ms(m['jvp_api'])} |")

    print("\n### Ratios against targets\n")
    print("Ratios of the medians of the compiled timings (of the API timings in brackets); "
          "*best* is the ratio of the minima, less sensitive to other load on the machine. "
          "Targets are judged on the median compiled ratio.\n")
    print("| problem | grad/primal | best | target | met | jvp/primal | best | target | met |")
    print("|---|---:|---:|---:|---|---:|---:|---:|---|")
    verdicts = []
    for r in results:
        m, s = r["median"], r["spread"]
        gc_, ga = m["grad_fn"] / m["primal_fn"], m["grad_api"] / m["primal_api"]
        jc, ja = m["jvp_fn"] / m["primal_fn"], m["jvp_api"] / m["primal_api"]
        gb = s["grad_fn"][0] / s["primal_fn"][0]
        jb = s["jvp_fn"][0] / s["primal_fn"][0]
        tg, tj = TARGETS["grad/primal"], TARGETS["jvp/primal"]
        verdicts.append((r["name"], gc_, gb, jc, jb))
        print(f"| {r['name']} | {gc_:.2f} ({ga:.2f}) | {gb:.2f} | ≤ {tg:g} | {mark(gc_ <= tg)} "
              f"| {jc:.2f} ({ja:.2f}) | {jb:.2f} | ≤ {tj:g} | {mark(jc <= tj)} |")

    noisy = [r["name"] for r in results
             if max(r["median"][k] / r["spread"][k][0] for k in ("primal_fn", "grad_fn", "jvp_fn"))
             > 1.25]
    if noisy:
        print(f"\n**Note:** timings of {', '.join(noisy)} vary by more than 25 % between the "
              "median and the fastest run: the machine was busy (see the load average above), "
              "and the *best* ratios are the more trustworthy ones.")

    print("\n### Spread and first calls\n")
    print("min / 75th percentile of the compiled timings (ms), and the first call of each "
          "public object in this process (compile, or load from the on-disk cache; s).\n")
    print("| problem | primal min/p75 | grad min/p75 | jvp min/p75 | first jit (s) "
          "| first grad (s) | first jvp (s) |")
    print("|---|---|---|---|---:|---:|---:|")
    for r in results:
        s, fst = r["spread"], r["first"]
        cell = lambda k: f"{ms(s[k][0])} / {ms(s[k][1])}"  # noqa: E731
        print(f"| {r['name']} | {cell('primal_fn')} | {cell('grad_fn')} | {cell('jvp_fn')} "
              f"| {fst['primal']:.2f} | {fst['grad']:.2f} | {fst['jvp']:.2f} |")

    print("\n### Sanity of the results (informative, nothing asserted)\n")
    print("| problem | value | grad | max rel. err vs central diff. | jvp tangent "
          "| grad · tangent | jvp primal == jit |")
    print("|---|---:|---|---:|---:|---:|---|")
    for r in results:
        c = r["check"]
        gtxt = ", ".join(f"{v:.6g}" for v in c["grad"])
        dot = "n/a" if c["grad_dot_tangent"] is None else f"{c['grad_dot_tangent']:.10g}"
        print(f"| {r['name']} | {c['value']:.10g} | {gtxt} | {c['fd_rel_err']:.1e} "
              f"| {c['jvp_tangent']:.10g} | {dot} | {c['jvp_primal_matches']} |")
    return verdicts


def report_cold(cold):
    print("\n## First call of grad on a 20-line function, in fresh processes\n")
    print("`grad(model, argnums=(0, 1))(0.3, 0.7, 50)`; times in s, measured inside the "
          "child after its imports. *generate* = sourcediff's transform, code generation and "
          "module import; *compile* = the first call into Numba (compile, or load from cache). "
          "Warm rows are the median of several processes.\n")
    errors = [(k, r) for k, runs in cold.items() for r in runs if "error" in r]
    for k, r in errors:
        print(f"- child `{k}` failed: {r['error']}")
    rows = [
        ("(a) cold: empty SOURCEDIFF_CACHE_DIR", "a_cold", TARGETS["cold first call (s)"]),
        ("(a) warm: same SOURCEDIFF_CACHE_DIR again", "a_warm", TARGETS["warm first call (s)"]),
        ("(b) cold: empty SOURCEDIFF_CACHE_DIR and NUMBA_CACHE_DIR", "b_cold",
         TARGETS["cold first call (s)"]),
        ("(b) warm: both caches reused", "b_warm", TARGETS["warm first call (s)"]),
        ("baseline: plain `numba.njit(cache=True)` primal, cold", "numba_cold", None),
        ("baseline: plain `numba.njit(cache=True)` primal, from cache", "numba_warm", None),
    ]
    print("| process | import numpy | import numba | import sourcediff | generate | compile "
          "| **first call** | target | met | second call | process wall |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|")
    verdicts = []
    for label, key, target in rows:
        runs = [r for r in cold[key] if "error" not in r]
        if not runs:
            print(f"| {label} | failed |||||||||")
            continue
        f = lambda k: median_of(runs, k)  # noqa: E731
        first = f("first_call")
        opt = lambda k: "–" if math.isnan(f(k)) else f"{f(k):.3f}"  # noqa: E731
        tgt = "–" if target is None else f"≤ {target:g}"
        met = "–" if target is None else mark(first <= target)
        if target is not None:
            verdicts.append((label, first, target, first <= target))
        print(f"| {label} | {f('import_numpy'):.3f} | {f('import_numba'):.3f} "
              f"| {opt('import_sourcediff')} | {opt('generate')} | {opt('compile')} "
              f"| **{first:.3f}** | {tgt} | {met} | {f('second_call') * 1e3:.2f} ms "
              f"| {f('process_wall'):.2f} |")
    print("\nThe slowest Numba compilations in the cold processes (seconds, inclusive of "
          "what each compiles inside it):\n")
    for key, label in (("a_cold", "(a) cold"), ("b_cold", "(b) cold"),
                       ("numba_cold", "plain Numba, cold")):
        for r in cold[key]:
            if "error" in r:
                continue
            items = "; ".join(f"`{n}` {t:.2f}" for n, t in r.get("compiles", []))
            print(f"- {label}: {items or 'none'}")
    base = [r for r in cold["numba_warm"] if "error" not in r]
    if base:
        b = median_of(base, "first_call")
        print(f"\nPlain Numba itself needs {b:.3f} s for the first call of a function loaded from "
              "its cache in a fresh process (it loads its typing/lowering registries then, "
              "importing SciPy for BLAS); sourcediff's warm first call beyond that baseline:")
        for key, label in (("a_warm", "(a)"), ("b_warm", "(b)")):
            runs = [r for r in cold[key] if "error" not in r]
            if runs:
                extra = median_of(runs, "first_call") - b
                print(f"- {label} {extra:+.3f} s (of which generating the source again: "
                      f"{median_of(runs, 'generate'):.3f} s; import sourcediff: "
                      f"{median_of(runs, 'import_sourcediff'):.3f} s)")
    results = {tuple(r["result"]) for key in ("a_cold", "a_warm", "b_cold", "b_warm")
               for r in cold[key] if "error" not in r}
    if len(results) > 1:
        print(f"\nNote: the grad processes disagree on the result: {sorted(results)}")
    return verdicts


def load_average():
    try:
        return " / ".join(f"{v:.2f}" for v in os.getloadavg())
    except (AttributeError, OSError):
        return "n/a"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--show-source", action="store_true",
                        help="print the generated grad and jvp source of each problem")
    parser.add_argument("--no-cold", action="store_true", help="skip the subprocess timings")
    opts = parser.parse_args()
    reps, warmup, warm_procs = (7, 1, 1) if opts.quick else (31, 3, 3)

    import numba
    import sourcediff as sd

    started = time.perf_counter()
    print(f"# sourcediff scalar-loop benchmark{' (quick)' if opts.quick else ''}\n")
    print(f"Python {sys.version.split()[0]}, NumPy {np.__version__}, Numba {numba.__version__}, "
          f"{os.cpu_count()} CPUs; {reps} timed runs after {warmup} warm-up per measurement; "
          f"SOURCEDIFF_CACHE_DIR={os.environ.get('SOURCEDIFF_CACHE_DIR', '(default)')}; "
          f"load average at start {load_average()}")

    results = []
    for name, f, args, argnums, tangents, desc in problems():
        r = run_problem(sd, name, f, args, argnums, tangents, reps, warmup)
        r["desc"] = desc
        results.append(r)
    loop_verdicts = report_loops(results)

    small = np.random.default_rng(1).standard_normal(1)
    tiny = [("recurrence", recurrence, (0.7, 0.5, 1), (0, 1), (1.0, 0.5, 0)),
            ("horner", horner, (0.999, small), 0, (1.0, np.zeros_like(small))),
            ("rk4", rk4, (0.3, 2.0, 1.0, 1), (0, 1, 2), (1.0, 0.5, 0.25, 0))]
    print("\n### Per-call overhead (µs per call, one loop step, best of 5 × "
          f"{200 if opts.quick else 2000} calls)\n")
    print("| problem | jit API | compiled | grad API | compiled | sd.jvp API | compiled |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, f, args, argnums, tangents in tiny:
        o = call_overhead(sd, f, args, argnums, tangents, 200 if opts.quick else 2000)
        print(f"| {name} | {o['primal_api']:.1f} | {o['primal_fn']:.1f} | {o['grad_api']:.1f} "
              f"| {o['grad_fn']:.1f} | {o['jvp_api']:.1f} | {o['jvp_fn']:.1f} |")

    cold_verdicts = []
    if not opts.no_cold:
        cold_verdicts = report_cold(cold_start(warm_procs))

    if FALLBACKS:
        print("\n**Note:** the compiled functions could not be reached for some entries (their "
              "*compiled* columns repeat the public call):")
        for line in dict.fromkeys(FALLBACKS):
            print(f"- {line}")

    print("\n## Summary\n")
    tg, tj = TARGETS["grad/primal"], TARGETS["jvp/primal"]
    for name, g, gb, j, jb in loop_verdicts:
        print(f"- {name}: grad/primal {g:.2f} (best {gb:.2f}) vs ≤ {tg:g}: "
              f"{'met' if g <= tg else 'NOT met'}; jvp/primal {j:.2f} (best {jb:.2f}) vs ≤ {tj:g}: "
              f"{'met' if j <= tj else 'NOT met'}")
    for label, value, target, ok in cold_verdicts:
        print(f"- {label}: first call {value:.2f} s vs ≤ {target:g} s: "
              f"{'met' if ok else f'NOT met ({value / target:.1f}x the target)'}")
    if opts.show_source:
        for r in results:
            print(f"\n## Generated source: {r['name']}\n\n```python\n{r['grad_source']}```\n")
            print(f"```python\n{r['jvp_source']}```")
    print(f"\n(benchmark took {time.perf_counter() - started:.0f} s; load average at the end "
          f"{load_average()})")


if __name__ == "__main__":
    main()
