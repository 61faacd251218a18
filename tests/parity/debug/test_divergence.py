"""parity/debug/divergence.py: each tensor's error against its bound, the first beyond it, and whether its node made
the error or inherited it."""
import numpy as np
import pytest
from onnx import TensorProto, helper

from deploybridge.parity.debug.divergence import CREATED, TensorError, first, locate, measure


def test_a_shape_that_differs_diverges_and_says_so():
    m = measure(np.zeros((3, 2), np.float32), np.zeros((2, 3), np.float32))
    assert m["diverged"] and m["max_abs"] == np.inf and m["max_rel"] == np.inf
    assert m["note"] == "shape [2, 3], reference [3, 2]"


def test_integer_tensors_diverge_on_any_difference_but_not_on_ties_in_another_order():
    ref = np.array([4, 7, 1, 9], np.int64)
    assert measure(ref, ref.copy())["diverged"] is False
    off = measure(ref, np.array([4, 7, 2, 9], np.int64))  # one index off by one: no tolerance for indices
    assert off["diverged"] and off["max_abs"] == 1.0 and off["note"] == "1 of 4 differ"
    assert off["max_rel"] == pytest.approx(1 / 9) and off["cosine"] is None
    swapped = measure(ref, np.array([7, 4, 1, 9], np.int64))  # the same indices, two tied ones listed the other way
    assert not swapped["diverged"] and "another order" in swapped["note"]
    mask = np.array([True, False, True])
    assert measure(mask, np.array([True, True, True]))["diverged"]


def test_an_overflow_to_inf_diverges_whatever_the_finite_error():
    ref = np.array([1.0, 2.0, 60000.0, 3.0], np.float32)
    got = np.array([1.0, 2.0, np.inf, np.nan], np.float32)
    m = measure(ref, got, rtol=1.0, atol=1e6)  # a bound no finite error could pass
    assert m["diverged"] and m["overflow"] == 2 and m["max_abs"] == np.inf and m["max_rel"] == np.inf
    assert m["note"] == "2 value(s) overflow to inf/NaN"
    # inf where the reference is inf too is no overflow: the finite part agrees
    same = measure(np.array([np.inf, 1.0]), np.array([np.inf, 1.0]))
    assert not same["diverged"] and same["overflow"] == 0 and same["max_abs"] == 0.0


def test_the_bound_is_rtol_times_scale_plus_atol():
    rtol = 2.0 ** -10  # exact in binary: the boundary is tested exactly
    ref = np.array([-128.0, 1.0, 0.5])  # scale: the largest magnitude, the negative one
    at_bound = measure(ref, np.array([-128.0, 1.125, 0.5]), rtol=rtol, atol=0.0)
    assert at_bound["tolerance"] == 0.125 and at_bound["max_abs"] == 0.125 and not at_bound["diverged"]
    assert at_bound["max_rel"] == 0.125 / 128
    assert measure(ref, np.array([-128.0, 1.125 + 2.0 ** -20, 0.5]), rtol=rtol, atol=0.0)["diverged"]
    over = np.array([-128.0, 1.1875, 0.5])  # 0.1875 = rtol * 128 + 1/16: within only with the atol
    assert measure(ref, over, rtol=rtol, atol=0.0)["diverged"]
    assert not measure(ref, over, rtol=rtol, atol=1 / 16)["diverged"]
    assert measure(ref, ref * 1.0)["cosine"] == pytest.approx(1.0)


def _error(tensor: str, depth: int, max_rel: float, diverged: bool) -> TensorError:
    return TensorError(tensor, f"node_{tensor}", "Relu", None, "", "", depth, [4], max_rel, max_rel, 1.0, 1e-3, diverged)


def test_first_is_the_earliest_diverging_tensor_in_graph_order_not_the_largest():
    errors = [_error("late", 9, 5.0, True), _error("ok", 1, 1e-6, False), _error("early", 4, 2e-3, True)]
    assert first(errors).tensor == "early"
    assert first([_error("ok", 1, 1e-6, False)]) is None


def _chain():
    """a = Relu(x), e = Sigmoid(x), b = a * 2, c = b + e, d = -c (b is never compared)."""
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="relu"),
             helper.make_node("Sigmoid", ["x"], ["e"], name="sigmoid"),
             helper.make_node("Constant", [], ["k"], name="const", value=helper.make_tensor("k", TensorProto.FLOAT, [], [2.0])),
             helper.make_node("Mul", ["a", "k"], ["b"], name="mul"),
             helper.make_node("Add", ["b", "e"], ["c"], name="add"),
             helper.make_node("Neg", ["c"], ["d"], name="neg")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
                              [helper.make_tensor_value_info("d", TensorProto.FLOAT, [4])])
    return helper.make_model(graph)


def test_locate_a_created_error_names_its_inputs_and_the_nodes_between():
    errors = [_error("a", 0, 1e-6, False), _error("e", 1, 5e-4, False), _error("c", 4, 1e-2, True),
              _error("d", 5, 1e-2, True)]
    found = locate(_chain(), errors, ["x"])
    assert found.error.tensor == "c" and found.created
    assert found.inputs == ["a", "e"] and found.input_error == 5e-4  # the larger of its inputs' errors
    assert found.between == [{"node": "mul", "op": "Mul"}, {"node": "add", "op": "Add"}]  # not the Constant


def test_locate_an_error_grown_from_its_input_error_is_inherited():
    grown = 5e-4 * (CREATED - 1)  # just under CREATED times the input's error
    errors = [_error("a", 0, 1e-7, False), _error("e", 1, 5e-4, False), _error("c", 4, grown, True)]
    found = locate(_chain(), errors, ["x"])
    assert found.error.tensor == "c" and not found.created and found.input_error == 5e-4
    errors[2] = _error("c", 4, 5e-4 * CREATED, True)
    assert locate(_chain(), errors, ["x"]).created
    only_inputs = locate(_chain(), [_error("a", 0, 1e-2, True)], ["x"])  # computed from the graph input alone
    assert only_inputs.inputs == ["x"] and only_inputs.input_error == 0.0 and only_inputs.created
    assert locate(_chain(), [_error("a", 0, 1e-6, False)], ["x"]) is None
