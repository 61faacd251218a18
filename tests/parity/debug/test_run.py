"""parity/debug/run.py: what debug_artifact adds around the comparison (If/Loop bodies reported at their parent)."""


def test_a_diverging_if_names_the_modules_of_the_nodes_in_its_branches():
    import torch
    from onnx import TensorProto, helper

    from deploybridge.parity.debug.run import _body_modules

    def branch(name, op):
        out = helper.make_tensor_value_info(f"{name}_y", TensorProto.FLOAT, None)
        return helper.make_graph([helper.make_node(op, ["x"], [f"{name}_y"], name=f"/model/head/{name}/{op}")], name, [], [out])

    node = helper.make_node("If", ["cond"], ["y"], name="/model/If", then_branch=branch("then_conv", "Relu"),
                            else_branch=branch("else_conv", "Sigmoid"))
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
                                            helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph)
    head = torch.nn.ModuleDict({"then_conv": torch.nn.ReLU(), "else_conv": torch.nn.Sigmoid()})
    modules = {"": None, "model": None, "model.head": head, "model.head.then_conv": head["then_conv"],
               "model.head.else_conv": head["else_conv"]}
    found = _body_modules(model, [{"node": "/model/If", "op": "If"}], modules)
    assert sorted(found) == ["model.head.else_conv", "model.head.then_conv"]
    assert _body_modules(model, [{"node": "/model/If", "op": "Relu"}], modules) == []  # not a parent: nothing listed
