#!/usr/bin/env python
"""Benchmark: sourcediff against JAX, PyTorch and autograd on the GradBench problems and
the scalar kernels of ``scalar_loops.py``.

Usage::

    pip install -e '.[bench]'               # JAX, PyTorch, autograd, matplotlib (each optional)
    python bench/run.py --quick              # small sizes, a few minutes
    python bench/run.py                      # GradBench-like sizes
    python bench/run.py --only gmm,lse --chart gmm.png
    python bench/run.py --gradbench ~/src/gradbench   # also GradBench's manual C++ tool

For each problem and tool: the median time of the primal, of the derivative the GradBench
eval asks for (sourcediff's is the tool's own function, ``sourcediff/gradbench``), and of
a JVP of the objective along a random direction, and the derivative/primal and JVP/primal
ratios.  For sourcediff, two fresh processes sharing an empty cache directory time the
first calls: the first compiles (``compile``), the second loads from the disk cache
(``cache load``).  JAX runs ``jit`` of ``grad`` and waits with ``block_until_ready``;
PyTorch runs ``torch.func`` on one thread, and JAX with XLA's thread pool on one CPU
(``--all-cores``: JAX on all of them).  With ``--gradbench PATH`` (or
``GRADBENCH_DIR``) naming a GradBench checkout, GradBench's hand-differentiated C++
(``manual C++``, built from that checkout by ``manual.py``) is timed too, by the timings
its programs print.  Tools that are not installed, problems a tool has no version of
here, and derivatives sourcediff cannot take yet are reported, not fatal.  Prints a
markdown table and writes a PNG chart if matplotlib is installed.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

import numpy as np

import manual
import others
from scalar_loops import horner, recurrence, rk4

import sourcediff as sd
from sourcediff.gradbench import ba, det, gmm, ht, inputs, kmeans, llsq, lse, lstm, ode, particle, saddle
from sourcediff.gradbench.tool import keep_freed_memory, run_timed


@dataclass
class Problem:
    name: str
    size: str
    args: tuple                    # the arguments of the functions below
    primal: object                 # sourcediff's compiled primal
    derivative: object             # and derivative, as the GradBench tool runs them
    objective: object = None       # what sd.jvp differentiates (None: no JVP)
    moved: tuple = ()              # the arguments the JVP moves
    jvp_args: tuple = field(default=None)
    gradbench: tuple = None        # (eval, primal name, derivative name, eval input) for manual.py


def gradbench_problem(name, module, given, primal, derivative, objective, moved, size):
    args = module.prepare(given)
    return Problem(name, size, args, module.FUNCTIONS[primal], module.FUNCTIONS[derivative],
                   objective, moved, gradbench=(name, primal, derivative, given))


def problems(quick):
    """The problems at quick or full sizes."""
    def pick(small, large):
        return small if quick else large
    n_lse = pick(10**4, 10**6)
    n_llsq, m_llsq = pick((256, 32), (4096, 128))
    n_ode, s_ode = pick((100, 10), (1000, 100))
    ell = pick(6, 9)
    km = pick((1000, 10, 8), (10000, 100, 16))
    gm = pick((5, 5, 200), (20, 25, 1000))
    lstm_size = pick((2, 64), (2, 1024))
    ba_size = pick((10, 100, 1000), (49, 7776, 31843))
    ht_size = pick((200, 100), (544, 1000))
    steps = pick(1000, 10**5)
    hand = gradbench_problem("ht", ht, inputs.ht(*ht_size, False), "objective", "jacobian",
                             ht.ht_objective, (0,), "vertices={} points={}".format(*ht_size))
    hand.jvp_args = (hand.args[0],) + hand.args[2:-1]        # ht_objective's arguments
    found = [
        gradbench_problem("lse", lse, inputs.lse(n_lse), "primal", "gradient", lse.logsumexp,
                          (0,), f"n={n_lse}"),
        gradbench_problem("llsq", llsq, inputs.llsq(n_llsq, m_llsq), "primal", "gradient", llsq.llsq,
                          (0,), f"n={n_llsq} m={m_llsq}"),
        gradbench_problem("ode", ode, inputs.ode(n_ode, s_ode), "primal", "gradient",
                          ode.runge_kutta, (0,), f"n={n_ode} s={s_ode}"),
        gradbench_problem("det", det, inputs.det(ell), "primal", "gradient", det.det, (0,),
                          f"ell={ell}"),
        gradbench_problem("kmeans", kmeans, inputs.kmeans(*km), "cost", "dir", kmeans.cost, (1,),
                          "n={} k={} d={}".format(*km)),
        gradbench_problem("gmm", gmm, inputs.gmm(*gm), "objective", "jacobian", gmm.gmm_objective,
                          (0, 1, 2, 3), "d={} k={} n={}".format(*gm)),
        gradbench_problem("lstm", lstm, inputs.lstm(*lstm_size), "objective", "jacobian",
                          lstm.lstm_objective, (0, 1), "l={} c={}".format(*lstm_size)),
        gradbench_problem("ba", ba, inputs.ba(*ba_size), "objective", "jacobian", ba.ba_objective,
                          (0, 1, 2), "n={} m={} p={}".format(*ba_size)),
        hand,
        gradbench_problem("particle", particle, inputs.particle(), "rr", "rr", None, (), "rr"),
        gradbench_problem("saddle", saddle, inputs.saddle(), "rr", "rr", None, (), "rr"),
    ]
    coefficients = np.random.default_rng(0).standard_normal(steps)
    for name, f, args, argnums in (("recurrence", recurrence, (0.7, 0.5, steps), (0, 1)),
                                   ("horner", horner, (0.999, coefficients), 0),
                                   ("rk4", rk4, (0.3, 2.0, 1.0, steps), (0, 1, 2))):
        found.append(Problem(name, f"{steps} steps", args, sd.jit(f), sd.grad(f, argnums=argnums),
                             f, (argnums,) if isinstance(argnums, int) else argnums))
    return found


def sourcediff_jvp(problem):
    """A zero-argument callable: sd.jvp of the objective along a random direction."""
    args = problem.jvp_args or problem.args
    rng = np.random.default_rng(0)

    def tangent(i, a):
        if isinstance(a, np.ndarray):
            return rng.normal(size=a.shape) if i in problem.moved else np.zeros_like(a)
        if isinstance(a, float):
            return 0.5 if i in problem.moved else 0.0
        return a                     # ints and bools are not differentiated
    tangents = tuple(tangent(i, a) for i, a in enumerate(args))
    return lambda given=(args, tangents): sd.jvp(problem.objective, *given)


def flat(value):
    parts = value if isinstance(value, tuple) else (value,)
    return np.concatenate([np.ravel(np.asarray(part, dtype=np.float64)) for part in parts])


def jvp_error(problem, jvp):
    """Why sourcediff's JVP is wrong (central differences disagree), or None."""
    args = problem.jvp_args or problem.args
    _, tangents = jvp.__defaults__[0]
    f, h = sd.jit(problem.objective), 1e-6
    moved = [tuple(a + sign * h * t if i in problem.moved else a
                   for i, (a, t) in enumerate(zip(args, tangents))) for sign in (1, -1)]
    expected = (flat(f(*moved[0])) - flat(f(*moved[1]))) / (2 * h)
    got = flat(jvp()[1])
    if not np.allclose(got, expected, rtol=1e-4, atol=1e-6 * (1 + np.abs(expected).max())):
        return "sd.jvp's tangent differs from central differences (array tangents ignored?)"
    return None


def sourcediff_calls(problem):
    calls = {"primal": lambda: problem.primal(*problem.args),
             "derivative": lambda: problem.derivative(*problem.args)}
    if problem.objective is not None:
        calls["jvp"] = sourcediff_jvp(problem)
    return calls


# ----------------------------------------------------------------------------- timing

def short(error):
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[-1] if lines else ''}"[:160]


def measure(call, runs):
    """{"first": seconds of the first call, "median": of the runs after it} or {"error": ...}."""
    try:
        start = time.perf_counter()
        call()
        first = time.perf_counter() - start
        _, timings = run_timed(call, (), *(runs if first < 1 else (1, 0.0)))
    except Exception as error:
        return {"error": short(error)}
    return {"first": first, "median": statistics.median(t["nanoseconds"] for t in timings) / 1e9}


def first_calls(name, quick, cache_dir):
    """First-call seconds of sourcediff's functions for ``name`` in a fresh process."""
    env = {**os.environ, "SOURCEDIFF_CACHE_DIR": cache_dir}
    command = [sys.executable, __file__, "--child", name] + (["--quick"] if quick else [])
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        return {"error": short(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else
                               f"exit {done.returncode}")}
    return json.loads(done.stdout.strip().splitlines()[-1])


def child(name, quick):
    import numba
    numba.njit(lambda: 0)()          # Numba's own start-up (about 1 s) is not the problem's
    problem = next(p for p in problems(quick) if p.name == name)
    out = {}
    for what, call in sourcediff_calls(problem).items():
        start = time.perf_counter()
        try:
            call()
            out[what] = time.perf_counter() - start
        except Exception as error:
            out[what] = short(error)
    print(json.dumps(out))


# ----------------------------------------------------------------------------- report

def ms(result):
    return f"{result['median'] * 1e3:.3g}" if "median" in result else "unsupported"


def ratio(result, primal):
    if "median" in result and "median" in primal:
        return f"{result['median'] / primal['median']:.2f}"
    return "–"


def seconds(value):
    return f"{value:.2f}" if isinstance(value, float) else "–"


def table(rows):
    print("| problem | size | tool | primal (ms) | derivative (ms) | derivative / primal "
          "| JVP (ms) | JVP / primal | first derivative call (s) | compile (s) | cache load (s) |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        t, cold, warm = row["times"], row.get("cold", {}), row.get("warm", {})
        jvp = t.get("jvp", {"error": "no JVP"})
        compile_ = " / ".join(seconds(cold.get(k)) for k in ("primal", "derivative")) if cold else "–"
        load = " / ".join(seconds(warm.get(k)) for k in ("primal", "derivative")) if warm else "–"
        print(f"| {row['problem']} | {row['size']} | {row['tool']} | {ms(t['primal'])} "
              f"| {ms(t['derivative'])} | {ratio(t['derivative'], t['primal'])} "
              f"| {ms(jvp) if 'median' in jvp else '–'} | {ratio(jvp, t['primal'])} "
              f"| {seconds(t['derivative'].get('first'))} | {compile_} | {load} |")


def chart(rows, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"\n(matplotlib is not installed: no chart written to {path})")
        return
    names = list(dict.fromkeys(r["problem"] for r in rows))
    tools = list(dict.fromkeys(r["tool"] for r in rows))
    figure, axes = plt.subplots(2, 1, figsize=(max(8, len(names) * 1.1), 8), sharex=True)
    width = 0.8 / len(tools)
    for k, tool in enumerate(tools):
        for axis, value in ((axes[0], lambda t: t["derivative"]["median"] * 1e3),
                            (axes[1], lambda t: t["derivative"]["median"] / t["primal"]["median"])):
            xs, ys = [], []
            for i, name in enumerate(names):
                row = next((r for r in rows if r["problem"] == name and r["tool"] == tool), None)
                if row and "median" in row["times"]["derivative"] and "median" in row["times"]["primal"]:
                    xs.append(i + k * width)
                    ys.append(value(row["times"]))
            axis.bar(xs, ys, width, label=tool)
    axes[0].set_ylabel("derivative (ms)")
    axes[1].set_ylabel("derivative / primal")
    for axis in axes:
        axis.set_yscale("log")
    axes[1].set_xticks([i + 0.4 - width / 2 for i in range(len(names))], names, rotation=30)
    axes[0].legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    print(f"\nChart written to {path}")


def cpus(all_cores):
    """(the CPUs JAX may use, those the other tools may use), or (None, None) for no pinning.
    The targets are single-thread, and XLA's CPU thread pool puts JAX's work on other cores,
    so JAX keeps to one CPU: its threads take their CPUs from the thread that starts them
    (Linux), which the timing thread is kept to while JAX runs.  The other tools, one thread
    each, may run anywhere: kept to one CPU, their times vary more on a virtual machine."""
    if all_cores or not hasattr(os, "sched_setaffinity"):
        return None, None
    allowed = os.sched_getaffinity(0)
    return {min(allowed)}, allowed


def keep_to(cpus):
    if cpus is not None:
        os.sched_setaffinity(0, cpus)        # this thread only


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, fewer runs")
    parser.add_argument("--only", help="comma-separated problem names")
    parser.add_argument("--no-cold", action="store_true",
                        help="skip the fresh processes that time compiling and cache loading")
    parser.add_argument("--chart", default=os.path.join(os.path.dirname(__file__), "results.png"))
    parser.add_argument("--gradbench", default=os.environ.get("GRADBENCH_DIR"), metavar="PATH",
                        help="a GradBench checkout: also time its manual C++ tool "
                             "(default: $GRADBENCH_DIR)")
    parser.add_argument("--all-cores", action="store_true",
                        help="let JAX use every CPU (by default it keeps to one)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    opts = parser.parse_args()
    keep_freed_memory()              # as the GradBench tool does
    if opts.child:
        return child(opts.child, opts.quick)
    jax_cpus, other_cpus = cpus(opts.all_cores)
    keep_to(jax_cpus)                # while JAX starts, so that its threads keep to that CPU
    runs = (3, 0.2) if opts.quick else (10, 1.0)
    chosen = problems(opts.quick)
    if opts.only:
        wanted = opts.only.split(",")
        chosen = [p for p in chosen if p.name in wanted]
    frameworks, missing = others.available()
    manual_tool, why_not = manual.find(opts.gradbench)
    print(f"# sourcediff benchmark{' (quick)' if opts.quick else ''}\n")
    print(f"Python {sys.version.split()[0]}, NumPy {np.__version__}, {os.cpu_count()} CPUs"
          f"{'' if jax_cpus is None else f', JAX and its threads kept to CPU {min(jax_cpus)}'}; "
          f"median of at least {runs[0]} runs and {runs[1]} s after a first call; times in ms.")
    if missing:
        print(f"\nNot installed, skipped: {', '.join(missing)} (`pip install -e '.[bench]'`).")
    if manual_tool:
        print(f"\n{manual.NAME}: GradBench's tools/manual from {manual_tool.checkout}, one thread; "
              f"the timings its programs print.")
    rows, notes = [], [f"{manual.NAME}: {why_not}"] if why_not else []
    for problem in chosen:
        print(f"  timing {problem.name} ...", file=sys.stderr)
        keep_to(other_cpus)
        calls = sourcediff_calls(problem)
        row = {"problem": problem.name, "size": problem.size, "tool": "sourcediff",
               "times": {what: measure(call, runs) for what, call in calls.items()}}
        if "median" in row["times"].get("jvp", {}):
            wrong = jvp_error(problem, calls["jvp"])
            if wrong:
                row["times"]["jvp"] = {"error": wrong}
        if not opts.no_cold:
            with tempfile.TemporaryDirectory(prefix="sd-bench-") as cache_dir:
                row["cold"] = first_calls(problem.name, opts.quick, cache_dir)
                row["warm"] = first_calls(problem.name, opts.quick, cache_dir)
        rows.append(row)
        for fw in frameworks:
            keep_to(jax_cpus if fw.name == "JAX" else other_cpus)
            try:
                calls = others.implement(fw, problem.name, problem.jvp_args or problem.args)
            except Exception as error:
                notes.append(f"{fw.name} on {problem.name}: {short(error)}")
                continue
            if isinstance(calls, str):
                notes.append(f"{fw.name} on {problem.name}: {calls}")
                continue
            rows.append({"problem": problem.name, "size": problem.size, "tool": fw.name,
                         "times": {what: measure(call, runs) for what, call in
                                   zip(("primal", "derivative", "jvp"), calls)}})
        keep_to(other_cpus)
        if manual_tool and problem.gradbench:      # not the scalar kernels
            times = manual.implement(manual_tool, problem.name, problem.gradbench, runs)
            if isinstance(times, str):
                notes.append(f"{manual.NAME} on {problem.name}: {times}")
            else:
                rows.append({"problem": problem.name, "size": problem.size, "tool": manual.NAME,
                             "times": times})
    print()
    table(rows)
    print("\n*compile* and *cache load*: sourcediff's first call of the primal / the derivative in a "
          "new process with an empty cache directory, then in another new process with the same "
          "directory (after Numba's own start-up). *first derivative call*: in this process "
          "(includes JAX's jit compile). *unsupported*: see the notes.")
    errors = [f"{r['tool']} {what} of {r['problem']}: unsupported: {t['error']}" for r in rows
              for what, t in r["times"].items() if "error" in t]
    if notes or errors:
        print("\n## Notes\n")
        for line in notes + errors:
            print(f"- {line}")
    chart(rows, opts.chart)


if __name__ == "__main__":
    main()
