"""The GradBench tool: the protocol, driven by recorded sessions, and the objectives' values
(plain Python and numba.njit) against independent NumPy versions.

Derivatives are in test_gradbench_grads.py."""
import json
import subprocess
import sys
import types

import numpy as np
import pytest

from gradbench_reference import close, njit_deep, outputs, session
import gradbench_reference as ref
from sourcediff.gradbench import (EVALS, ba, det, gmm, ht, inputs, kmeans, llsq, lse, lstm, ode,
                                  particle, saddle, tool)

HELLO = [("square", 1.0), ("double", 1.0), ("square", 2.0), ("double", 4.0)]


# ----------------------------------------------------------------------------- protocol

def test_hello_session():
    responses = session("hello", HELLO)
    assert [r["id"] for r in responses] == list(range(2 + 2 * len(HELLO)))
    assert responses[0]["tool"] == "sourcediff" and "backend" in responses[0]["config"]
    assert responses[1]["success"] is True
    assert [t["name"] for t in responses[1]["timings"]] == ["compile", "compile"]
    evaluated = responses[2::2]
    assert [r["output"] for r in evaluated] == [1.0, 2.0, 4.0, 8.0]
    assert all(len(r["timings"]) == 1 and r["timings"][0]["name"] == "evaluate" for r in evaluated)
    assert all(r == {"id": r["id"]} for r in responses[3::2])          # analysis: acknowledged


def test_runs_and_seconds():
    responses = session("lse", [("primal", inputs.lse(16))], min_runs=5)
    assert len(responses[2]["timings"]) == 5
    given = {**inputs.lse(16), "min_runs": 1, "min_seconds": 0.02}
    _, timings = tool.run_timed(lse.FUNCTIONS["primal"], lse.prepare(given), 1, 0.02)
    assert sum(t["nanoseconds"] for t in timings) >= 0.02e9 and len(timings) > 1


def test_unknown_module_function_and_kind():
    tool_ = tool.Tool()
    assert tool_.respond({"id": 7, "kind": "define", "module": "nope"})["success"] is False
    assert tool_.respond({"id": 8, "kind": "evaluate", "module": "lse", "function": "primal",
                          "input": inputs.lse(4)})["success"] is False       # not defined
    assert tool_.respond({"id": 9, "kind": "define", "module": "hello"})["success"] is True
    missing = tool_.respond({"id": 10, "kind": "evaluate", "module": "hello", "function": "cube",
                             "input": 1.0})
    assert missing["success"] is False and "cube" in missing["error"]
    assert tool_.respond({"id": 11, "kind": "end"}) == {"id": 11}
    assert tool_.respond({"id": 12, "kind": "respond"}) == {"id": 12}


def test_function_that_cannot_compile_fails_alone(monkeypatch):
    fake = types.ModuleType("sourcediff.gradbench.fake")
    fake.prepare = lambda given: (float(given),)
    fake.FUNCTIONS = {"fine": lambda x: x + 1.0, "broken": lambda x: x / 0.0}
    monkeypatch.setitem(sys.modules, "sourcediff.gradbench.fake", fake)
    monkeypatch.setattr(tool, "EVALS", EVALS + ("fake",))
    monkeypatch.setattr(tool.inputs, "examples", lambda name: [1.0])
    responses = session("fake", [("fine", 2.0), ("broken", 2.0)])
    assert responses[1]["success"] is True and len(responses[1]["timings"]) == 2
    assert responses[2]["output"] == 3.0
    assert responses[4]["success"] is False and "ZeroDivisionError" in responses[4]["error"]


def test_command_line_speaks_only_protocol_on_stdout():
    messages = [{"id": 0, "kind": "start", "eval": "hello"}, {"id": 1, "kind": "define", "module": "hello"},
                {"id": 2, "kind": "evaluate", "module": "hello", "function": "double", "input": 3.0},
                {"id": 3, "kind": "analysis", "of": 2, "valid": False, "error": "just testing"}]
    done = subprocess.run([sys.executable, "-m", "sourcediff.gradbench"], text=True, timeout=300,
                          input="".join(json.dumps(m) + "\n" for m in messages), capture_output=True)
    assert done.returncode == 0, done.stderr
    responses = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["id"] for r in responses] == [0, 1, 2, 3]
    assert responses[2]["output"] == 6.0
    assert "just testing" in done.stderr


FAULTS_OF_A_FRESH_ARRAY = """
import resource, sys
import numpy as np
from sourcediff.gradbench.tool import keep_freed_memory
if sys.argv[1] == "kept":
    assert keep_freed_memory() is True
for _ in range(3):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    a, b = np.ones(2 * 10**6), np.ones(2 * 10**6)      # two 16 MB arrays, written
    del a, b
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_kept_freed_memory_is_written_again_without_page_faults():
    def faults(how):
        done = subprocess.run([sys.executable, "-c", FAULTS_OF_A_FRESH_ARRAY, how], text=True,
                              capture_output=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return [int(line) for line in done.stdout.split()]
    # glibc's default gives both arrays back: here about 1100 faults each time after the first
    # (fewer than the 8192 pages, the kernel maps some ahead); kept, none
    kept = faults("kept")
    assert max(kept[1:]) < 50, (kept, faults("default"))


def test_jsonable():
    value = {"a": np.arange(3.0), "b": (np.float64(1.5), np.int64(2)), "c": [np.zeros((1, 2))]}
    assert json.loads(json.dumps(tool.jsonable(value))) == {"a": [0.0, 1.0, 2.0], "b": [1.5, 2],
                                                            "c": [[[0.0, 0.0]]]}


# ----------------------------------------------------------------------------- values through the tool

def test_lse_llsq_ode_det_kmeans_primal_through_the_tool():
    given = {"lse": inputs.lse(10), "llsq": inputs.llsq(9, 4), "ode": inputs.ode(5, 4),
             "det": inputs.det(4), "kmeans": inputs.kmeans(20, 3, 2)}
    close(outputs("lse", [("primal", given["lse"])])[0], ref.lse(np.array(given["lse"]["x"])))
    close(outputs("llsq", [("primal", given["llsq"])])[0],
          ref.llsq(np.array(given["llsq"]["x"]), 9))
    close(outputs("ode", [("primal", given["ode"])])[0], ref.ode(np.array(given["ode"]["x"]), 4))
    close(outputs("det", [("primal", given["det"])])[0], ref.det(np.array(given["det"]["A"]), 4))
    points, centroids = kmeans.prepare(given["kmeans"])
    close(outputs("kmeans", [("cost", given["kmeans"])])[0], ref.kmeans_cost(points, centroids))


# ----------------------------------------------------------------------------- objectives, plain and njit

def objective_cases():
    """(name, our objective, its arguments, the NumPy value)"""
    x = lse.prepare(inputs.lse(12))
    llsq_args = llsq.prepare(inputs.llsq(11, 5))
    ode_args = ode.prepare(inputs.ode(6, 5))
    det_args = det.prepare(inputs.det(5))
    kmeans_args = kmeans.prepare(inputs.kmeans(30, 4, 3))
    gmm_args = gmm.prepare(inputs.gmm(3, 2, 6, m=1, gamma=0.8))
    lstm_args = lstm.prepare(inputs.lstm(2, 6))
    ba_input = inputs.ba(3, 4, 7)
    ba_args = ba.prepare(ba_input)
    ba_expected = np.array([ref.ba_reprojection(np.array(ba_input["cam"]), np.array(ba_input["x"]),
                                                ba_input["w"], np.array(ba_input["feat"]))] * 7)
    cases = [("lse", lse.logsumexp, x, ref.lse(*x)),
             ("llsq", llsq.llsq, llsq_args, ref.llsq(*llsq_args)),
             ("ode", ode.runge_kutta, ode_args, ref.ode(*ode_args)),
             ("det", det.det, det_args, ref.det(*det_args)),
             ("kmeans", kmeans.cost, kmeans_args, ref.kmeans_cost(*kmeans_args)),
             ("gmm", gmm.gmm_objective, gmm_args, ref.gmm(*gmm_args[:-1])),
             ("lstm", lstm.lstm_objective, lstm_args, ref.lstm(*lstm_args)),
             ("ba", ba.ba_objective, ba_args, (ba_expected, np.full(7, 1 - ba_input["w"] ** 2)))]
    for complicated in (False, True):
        given = inputs.ht(15, 6, complicated)
        theta, us, *model = ht.prepare(given)
        expected = ref.ht(theta, given["us"], given["data"])
        if complicated:
            cases.append(("ht complicated", ht.ht_objective_complicated, (theta, us, *model), expected))
        else:
            cases.append(("ht", ht.ht_objective, (theta, *model[:-1]), expected))
    return cases


@pytest.mark.parametrize("case", objective_cases(), ids=lambda case: case[0])
@pytest.mark.parametrize("how", ["python", "njit"])
def test_objective_values(case, how):
    name, objective, args, expected = case
    function = objective if how == "python" else njit_deep(objective)
    value = function(*args)
    if isinstance(expected, tuple):
        for got, want in zip(value, expected):
            close(got, want, rtol=1e-10, atol=1e-12)
    else:
        close(value, expected, rtol=1e-10, atol=1e-12)


def test_ht_variants_share_argument_kinds():
    # simple and complicated inputs give arguments of the same kinds (us is (0, 2) when empty)
    for complicated in (False, True):
        prepared = ht.prepare(inputs.ht(10, 3, complicated))
        assert [a.dtype.kind if isinstance(a, np.ndarray) else type(a).__name__ for a in prepared] == \
            ["f", "f", "f", "i", "f", "f", "f", "bool", "i", "f", "i"]


def test_rodrigues_without_rotation():
    given = inputs.ba(1, 1, 2)
    given["cam"][0:3] = [0.0, 0.0, 0.0]
    cams, points, weights, _, features = ba.prepare(given)
    expected = ref.ba_reprojection(cams[0], points[0], weights[0], features[0])
    close(ba.reprojection_error(cams[0], points[0], weights[0], features[0]), expected, rtol=1e-12)


def test_particle_trajectory_uses_the_potential_gradient():
    # the inner derivative (sd.grad or sd.jvp of the potential) called from plain Python
    for w in (0.0, 0.3):
        expected = ref.particle_miss(w)
        close(particle.miss_reverse(np.array([w]), 0.1), expected, rtol=1e-10)
        close(particle.miss_forward(np.array([w]), 0.1), expected, rtol=1e-10)


def test_saddle_function():
    x, y = np.array([0.5, -1.5]), np.array([2.0, 0.25])
    assert saddle.f(x, y) == saddle.f_of_y(y, x) == (0.25 + 2.25) - (4.0 + 0.0625)
