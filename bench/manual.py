"""GradBench's hand-differentiated C++ programs (its ``manual`` tool) as a tool in run.py.

GradBench is not copied here: ``find(path)`` takes the user's own GradBench checkout
(``--gradbench PATH`` or ``GRADBENCH_DIR``; it needs ``cpp/`` and ``tools/manual/``) and
builds ``tools/manual`` with GradBench's own Makefiles, one program an eval, into
``~/.cache/sourcediff/gradbench-manual/<hash of the sources>/bin`` (``XDG_CACHE_HOME`` is
honoured).  Nothing is written into the checkout.  The JSON header ``json.hpp`` is the
checkout's ``cpp/json.hpp`` if ``make -C cpp`` fetched it there, else the system's
nlohmann/json (Debian: ``nlohmann-json3-dev``).  The programs are built the way GradBench's
``cpp.py`` builds them outside Docker: ``-O3 -march=native``, one thread (no OpenMP).

A program runs as ``bin/EVAL INPUT.json FUNCTION``: it reads the input of an ``evaluate``
message (with ``min_runs`` and ``min_seconds``), runs FUNCTION that often, and prints the
output then one ``{"name": "evaluate", "nanoseconds"}`` line a run.  ``Manual.time`` reads
those timings, which leave out process start-up and JSON parsing.
"""
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile

NAME = "manual C++"


class Manual:
    def __init__(self, checkout):
        self.checkout = os.path.abspath(os.path.expanduser(checkout))
        self.sources = os.path.join(self.checkout, "tools", "manual")
        cache = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
        self.build = os.path.join(cache, "sourcediff", "gradbench-manual", self.fingerprint())
        self.failed = {}                      # eval -> why its program could not be built

    def fingerprint(self):
        """A hash of the C++ sources and Makefiles, so that a changed checkout builds afresh."""
        digest = hashlib.sha256()
        for top in ("cpp", os.path.join("tools", "manual")):
            for folder, dirs, files in sorted(os.walk(os.path.join(self.checkout, top))):
                dirs[:] = sorted(d for d in dirs if d != "bin")
                for name in sorted(files):
                    path = os.path.join(folder, name)
                    digest.update(os.path.relpath(path, self.checkout).encode() + b"\0")
                    with open(path, "rb") as f:
                        digest.update(f.read())
        return digest.hexdigest()[:16]

    def covers(self, eval_name):
        return os.path.isfile(os.path.join(self.sources, f"{eval_name}.cpp"))

    def program(self, eval_name):
        """The built program for ``eval_name``, built now if it is not yet; raises if it fails."""
        if eval_name in self.failed:
            raise RuntimeError(self.failed[eval_name])
        include = os.path.join(self.build, "include")
        if not os.path.exists(os.path.join(include, "json.hpp")):
            os.makedirs(include, exist_ok=True)
            with open(os.path.join(include, "json.hpp"), "w") as f:
                f.write("#include <nlohmann/json.hpp>\n")   # if the checkout has no cpp/json.hpp
        built = os.path.join(self.build, "bin", eval_name)
        if not os.path.exists(built):
            print(f"  building {NAME} {eval_name} in {self.build} ...", file=sys.stderr)
        # The checkout's Makefile, run in the build folder: -I finds the common.mk it
        # includes, VPATH the sources; CXXFLAGS from the environment replaces its default
        # (whose -I is relative to tools/manual) and the Makefile still adds -march=native.
        flags = f"-std=c++17 -O3 -Wall -I{os.path.join(self.checkout, 'cpp')} -I{include}"
        command = ["make", "-C", self.build, "-f", os.path.join(self.sources, "Makefile"),
                   "-I", self.sources, f"VPATH={self.sources}", f"bin/{eval_name}"]
        try:
            done = subprocess.run(command, env={**os.environ, "CXXFLAGS": flags},
                                  capture_output=True, text=True)
        except OSError as error:                  # no make
            done = subprocess.CompletedProcess(command, 127, "", str(error))
        if done.returncode != 0:
            errors = [line for line in done.stderr.splitlines() if "error" in line] or \
                done.stderr.strip().splitlines() or [f"make exited {done.returncode}"]
            self.failed[eval_name] = f"building bin/{eval_name} failed: {errors[0].strip()}"[:200]
            raise RuntimeError(self.failed[eval_name])
        if not os.path.exists(built):       # make found bin/<eval> through VPATH, in the checkout
            self.failed[eval_name] = f"make built no {built}: remove bin/ from {self.sources}"
            raise RuntimeError(self.failed[eval_name])
        return built

    def time(self, eval_name, function, given, runs):
        """{"first", "median"} seconds of ``function`` on the eval input ``given``, as run.py's
        ``measure``: the first run apart, the median of at least ``runs[0]`` runs after it and
        until they add up to ``runs[1]`` seconds; or {"error": ...}."""
        try:
            program = self.program(eval_name)
        except RuntimeError as error:
            return {"error": str(error)}
        min_runs, min_seconds = runs
        with tempfile.NamedTemporaryFile("w", suffix=".json", prefix=f"manual-{eval_name}-") as f:
            json.dump({**given, "min_runs": min_runs + 1, "min_seconds": min_seconds}, f)
            f.flush()
            try:
                done = subprocess.run([program, f.name, function], capture_output=True,
                                      text=True, timeout=1800)
            except subprocess.TimeoutExpired:
                return {"error": f"{eval_name} {function}: over 30 minutes"}
        if done.returncode != 0:
            last = done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"]
            return {"error": f"{eval_name} {function}: {last[0]}"[:200]}
        lines = done.stdout.splitlines()[1:]             # the first line is the output
        ns = [t["nanoseconds"] for t in map(json.loads, lines) if t["name"] == "evaluate"]
        if len(ns) < 2:
            return {"error": f"{eval_name} {function}: {len(ns)} timings printed"}
        return {"first": ns[0] / 1e9, "median": statistics.median(ns[1:]) / 1e9}


def find(checkout):
    """(Manual, None) for a usable GradBench checkout; (None, why not) or (None, None) if
    none was given."""
    if not checkout:
        return None, None
    checkout = os.path.expanduser(checkout)
    manual = os.path.join(checkout, "tools", "manual", "Makefile")
    if not os.path.isfile(manual) or not os.path.isdir(os.path.join(checkout, "cpp")):
        return None, f"{checkout} is not a GradBench checkout (no cpp/ and tools/manual/Makefile)"
    return Manual(checkout), None


def implement(tool, name, gradbench, runs):
    """run.py's times for problem ``name``: {"primal": ..., "derivative": ...}, or why not.
    ``gradbench`` is (eval, primal function, derivative function, eval input)."""
    if gradbench is None or not tool.covers(gradbench[0]):
        return f"no version of {name} in GradBench's manual tool"
    eval_name, primal, derivative, given = gradbench
    print(f"  timing {name} with {NAME} ...", file=sys.stderr)
    return {"primal": tool.time(eval_name, primal, given, runs),
            "derivative": tool.time(eval_name, derivative, given, runs)}
