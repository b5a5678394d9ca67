"""The GradBench protocol: messages in on stdin, one JSON object a line; responses out on stdout.

The eval sends, and the tool answers every message with its ``id``:

- ``{"id", "kind": "start", "eval"?, "config"?}`` -> ``{"id", "tool", "config"}``
- ``{"id", "kind": "define", "module"}`` -> ``{"id", "success", "timings"?, "error"?}``:
  the module's functions are compiled here (run once on small inputs), so that
  compile time stays out of the timed runs; each appears as a ``"compile"`` timing.
- ``{"id", "kind": "evaluate", "module", "function", "input", "description"?}`` ->
  ``{"id", "success", "output"?, "timings"?, "error"?}``: the function runs at least
  ``input["min_runs"]`` times and until the runs add up to ``input["min_seconds"]``
  (inputs without them, as ``hello``'s, run once); each run is an ``"evaluate"``
  timing, and the output is the last run's.  Converting the input to NumPy arrays
  and the output to JSON is not timed.
- ``{"id", "kind": "analysis", "of", "valid", "error"?}`` (the eval's verdict on an
  output) and any other kind -> ``{"id"}``; an invalid verdict is logged on stderr.

A function that could not be compiled in ``define`` (sourcediff cannot differentiate
it yet) answers its ``evaluate`` messages with ``"success": false`` and the error, so
the module's other functions are still measured.
"""
import argparse
import ctypes
import importlib
import json
import sys
import time
import traceback

import numpy as np

from . import EVALS, inputs


def jsonable(value):
    """``value`` with NumPy arrays and scalars made lists and Python numbers."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, (tuple, list)):
        return [jsonable(item) for item in value]
    return value


def run_timed(function, args, min_runs=1, min_seconds=0.0):
    """The last result of ``function(*args)`` and one ``"evaluate"`` timing per run."""
    timings, elapsed = [], 0
    while len(timings) < min_runs or elapsed < min_seconds * 1e9:
        start = time.perf_counter_ns()
        result = function(*args)
        took = time.perf_counter_ns() - start
        timings.append({"name": "evaluate", "nanoseconds": took})
        elapsed += took
    return result, timings


def keep_freed_memory():
    """Have glibc's malloc keep freed memory in the process for the next allocation, as a
    program that reuses its buffers would; returns whether it could (False where the C
    library is not glibc).  By default glibc gives large freed blocks back to the system,
    and the next allocation as large is fresh memory, each page of which faults when first
    written: ``ba``'s Jacobian, 16 MB of output arrays a call, took 4000 faults, 12 of its 22 ms on a
    virtual machine.  The same as ``MALLOC_MMAP_THRESHOLD_=1073741824
    MALLOC_TRIM_THRESHOLD_=2147483648`` in the environment."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    trim_threshold, mmap_threshold = -1, -3           # glibc's <malloc.h>
    return bool(mallopt(mmap_threshold, 1 << 30) and mallopt(trim_threshold, 1 << 31))


def error_text(error):
    return "".join(traceback.format_exception_only(error)).strip()


class Module:
    """An eval's module, its functions compiled on the eval's small example inputs."""

    def __init__(self, name):
        self.name = name
        self.code = importlib.import_module(f"{__package__}.{name}")
        self.errors = {}        # function name -> why it cannot run
        self.timings = []
        for function_name, function in self.code.FUNCTIONS.items():
            start = time.perf_counter_ns()
            try:
                for example in inputs.examples(name):
                    function(*self.code.prepare(example))
            except Exception as error:
                traceback.print_exc(file=sys.stderr)
                self.errors[function_name] = f"{function_name}: {error_text(error)}"
            self.timings.append({"name": "compile", "nanoseconds": time.perf_counter_ns() - start})


class Tool:
    """Answers the messages of one session."""

    def __init__(self):
        self.modules = {}

    KINDS = ("start", "define", "evaluate", "analysis")

    def respond(self, message):
        kind = message.get("kind")
        response = getattr(self, kind)(message) if kind in self.KINDS else {}
        return {"id": message["id"], **response}

    def start(self, message):
        import numba

        import sourcediff
        from sourcediff.api import default_backend
        return {"tool": "sourcediff",
                "config": {"sourcediff": sourcediff.__version__, "numba": numba.__version__,
                           "backend": default_backend()}}

    def define(self, message):
        name = message["module"]
        if name not in EVALS:
            return {"success": False, "error": f"sourcediff has no implementation of {name!r}"}
        try:
            module = self.modules[name] = Module(name)
        except Exception as error:
            traceback.print_exc(file=sys.stderr)
            return {"success": False, "error": error_text(error)}
        return {"success": True, "timings": module.timings}

    def evaluate(self, message):
        module = self.modules.get(message["module"])
        if module is None:
            return {"success": False, "error": f"module {message['module']!r} was not defined"}
        name = message["function"]
        function = module.code.FUNCTIONS.get(name)
        if function is None:
            return {"success": False, "error": f"{module.name} has no function {name!r}"}
        if name in module.errors:
            return {"success": False, "error": module.errors[name]}
        given = message["input"]
        runs = given if isinstance(given, dict) else {}
        try:
            result, timings = run_timed(function, module.code.prepare(given),
                                        runs.get("min_runs", 1), runs.get("min_seconds", 0.0))
            return {"success": True, "output": jsonable(result), "timings": timings}
        except Exception as error:
            traceback.print_exc(file=sys.stderr)
            return {"success": False, "error": error_text(error)}

    def analysis(self, message):
        if not message.get("valid", True):
            print(f"sourcediff: the eval found the output of message {message.get('of')} invalid: "
                  f"{message.get('error', '')}", file=sys.stderr)
        return {}


def serve(lines, write):
    """Answer each JSON message in ``lines`` by calling ``write`` with one response line."""
    tool = Tool()
    for line in lines:
        if line.strip():
            write(json.dumps(tool.respond(json.loads(line))) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m sourcediff.gradbench",
                                     description="sourcediff as a GradBench tool: reads the eval's "
                                                 "messages on stdin, answers on stdout.")
    parser.parse_args(argv)
    keep_freed_memory()
    protocol = sys.stdout
    sys.stdout = sys.stderr          # nothing else printed may reach the eval

    def write(text):
        protocol.write(text)
        protocol.flush()
    serve(sys.stdin, write)
