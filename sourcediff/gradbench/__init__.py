"""sourcediff as a GradBench tool: ``python -m sourcediff.gradbench``.

GradBench (https://github.com/gradbench/gradbench) compares AD tools on a set of
evals; an eval talks to a tool over JSON lines (see ``tool.py``).  Each eval has
a module here holding its objective, written once as plain Python loops over
NumPy arrays the way a user of sourcediff would write it, and the derivatives
GradBench asks for, taken with ``sd.grad``, ``sd.jvp``, ``sd.jacfwd`` or
``sd.jacrev`` of that objective: nothing is differentiated by hand.

An eval module provides ``prepare(input)``, turning the eval's JSON input into
the function's arguments (NumPy arrays, outside the timed runs), and
``FUNCTIONS``, the eval's function names mapped to Python callables taking those
arguments.  ``inputs.py`` makes small inputs the way the evals do, for warming
up (compiling) in ``define``, for the tests and for ``bench/run.py``.
"""
EVALS = ("hello", "lse", "llsq", "ode", "det", "kmeans", "gmm", "lstm", "ba", "ht",
         "particle", "saddle")
