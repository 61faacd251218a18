"""parity/debug/scopes.py: the module a node came from, read from the names and metadata the exporters write."""
import io
import warnings

import onnx
import pytest
import torch
from onnx import TensorProto, helper

from deploybridge.parity.debug.scopes import NAME_SCOPES, STACK_TRACE, module_of_parts, node_scope, subgraph_parents

MODULES = dict.fromkeys(["", "model", "model.backbone", "model.backbone.stages", "model.backbone.stages.3",
                         "model.backbone.stages.3.0", "model.head", "model.head.conv"])


@pytest.mark.parametrize("parts,expected", [
    (["model", "backbone", "stages"], "model.backbone.stages"),  # attribute names under their parents
    (["model", "backbone", "stages", "stages.3", "stages.3.0"], "model.backbone.stages.3.0"),  # relative to an ancestor
    (["model", "backbone", "stages.3", "stages.3.0"], "model.backbone.stages.3.0"),  # /model/backbone/stages.3/stages.3.0/Relu
    (["", "model.backbone", "model.backbone.stages.3"], "model.backbone.stages.3"),  # full qualified names (dynamo)
    (["model", "head_1", "conv_1"], "model.head.conv"),  # a shared module's second call
    (["model", "neck"], None),  # no such module
    (["model", "backbone", "head"], None),  # model.head exists, but not below model.backbone
    ([], ""),  # the model itself
])
def test_module_of_parts(parts, expected):
    assert module_of_parts(parts, MODULES) == expected


class _Stages(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.stages = torch.nn.Sequential(torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU()),
                                          torch.nn.Sequential(torch.nn.Conv2d(4, 4, 1), torch.nn.ReLU()))
        self.head = torch.nn.Conv2d(4, 2, 1)

    def forward(self, x):
        return self.head(self.stages(x))


def test_every_node_of_a_legacy_export_names_its_module():
    model = torch.nn.Sequential()
    model.add_module("backbone", _Stages())
    model.eval()
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.randn(1, 3, 8, 8),), buffer, dynamo=False, opset_version=17)
    graph = onnx.load_from_string(buffer.getvalue()).graph
    modules = dict(model.named_modules())
    found = {n.name: node_scope(n, modules) for n in graph.node}
    # torch names these /backbone/stages/stages.1/stages.1.0/Conv: qualified names relative to an ancestor
    assert {n: s.module for n, s in found.items()} == {
        "/backbone/stages/stages.0/stages.0.0/Conv": "backbone.stages.0.0",
        "/backbone/stages/stages.0/stages.0.1/Relu": "backbone.stages.0.1",
        "/backbone/stages/stages.1/stages.1.0/Conv": "backbone.stages.1.0",
        "/backbone/stages/stages.1/stages.1.1/Relu": "backbone.stages.1.1",
        "/backbone/head/Conv": "backbone.head"}
    conv = found["/backbone/head/Conv"]
    assert conv.module_type == "torch.nn.modules.conv.Conv2d"
    assert conv.source.split(":")[0].endswith("torch/nn/modules/conv.py")  # the forward of Conv2d


def test_dynamo_metadata_names_the_module_and_the_source_line():
    modules = {"": None, "backbone": None, "backbone.stages": None, "backbone.stages.0": None,
               "backbone.stages.0.0": torch.nn.Conv2d(1, 1, 1)}
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="node_conv2d")  # the name says nothing
    node.metadata_props.add(key=NAME_SCOPES, value=str(["", "backbone", "backbone.stages", "backbone.stages.0",
                                                         "backbone.stages.0.0", "conv2d"]))
    node.metadata_props.add(key=STACK_TRACE, value='File "/src/model.py", line 10, in forward\n    x = self.stages(x)\n'
                                                   'File "/src/blocks.py", line 42, in forward\n    return self.conv(x)')
    scope = node_scope(node, modules)
    assert scope.module == "backbone.stages.0.0"
    assert scope.module_type == "torch.nn.modules.conv.Conv2d"
    assert scope.source == "/src/blocks.py:42"  # the innermost frame
    unnamed = helper.make_node("Cast", ["y"], ["z"], name="Cast_7", to=1)  # a graph pass's node: no guess
    assert node_scope(unnamed, modules).module is None


def _branch(name: str, nodes: list) -> onnx.GraphProto:
    return helper.make_graph(nodes, name, [], [helper.make_tensor_value_info(nodes[-1].output[0], TensorProto.FLOAT, None)])


def test_nodes_inside_if_branches_are_reported_at_the_top_level_if():
    inner = helper.make_node("If", ["c"], ["i_y"], name="/head/inner_if",
                             then_branch=_branch("t2", [helper.make_node("Neg", ["x"], ["n_y"], name="/head/deep/Neg")]),
                             else_branch=_branch("e2", [helper.make_node("Abs", ["x"], ["a_y"], name="/head/deep/Abs")]))
    outer = helper.make_node("If", ["c"], ["y"], name="/head/If",
                             then_branch=_branch("t", [helper.make_node("Relu", ["x"], ["r_y"], name="/head/then/Relu")]),
                             else_branch=_branch("e", [helper.make_node("Sigmoid", ["x"], ["s_y"], name="/head/else/Sigmoid"),
                                                       inner]))
    top = helper.make_node("Relu", ["y"], ["z"], name="/head/Relu")
    graph = helper.make_graph([outer, top], "g", [helper.make_tensor_value_info("c", TensorProto.BOOL, []),
                                                 helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                              [helper.make_tensor_value_info("z", TensorProto.FLOAT, None)])
    parents = subgraph_parents(helper.make_model(graph))
    assert parents == {"/head/then/Relu": "/head/If", "/head/else/Sigmoid": "/head/If", "/head/inner_if": "/head/If",
                       "/head/deep/Neg": "/head/If", "/head/deep/Abs": "/head/If"}  # nested bodies too; top-level nodes not
