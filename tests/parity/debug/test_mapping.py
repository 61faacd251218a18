"""parity/debug/mapping.py: module calls paired with the ONNX tensors holding their outputs, on legacy exports of tiny
modules (each pairing checked by value: the paired reference equals ONNX Runtime's tensor)."""
import io
import warnings

import numpy as np
import onnx
import torch

from deploybridge.parity.debug import capture, mapping, search, tensors


def _paired(module: torch.nn.Module, x: torch.Tensor):
    """(tensor -> Paired, the graph's values) for ``module`` exported on ``x`` as `deploy debug` pairs them."""
    module.eval()
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (x,), buffer, dynamo=False, opset_version=17, input_names=["x"])
    model = onnx.load_from_string(buffer.getvalue())
    calls, _ = capture.module_calls(module, (x,))
    scopes = search.node_scopes(model, dict(module.named_modules()))
    exits_of = mapping.candidates(model, scopes, calls)
    values = tensors.read_out(model, {"x": x.numpy()}, {t for names in exits_of.values() for t in names})
    return {p.tensor: p for p in mapping.pair(calls, exits_of, values)}, values


class _Head(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(4, 4, 1)
        self.out = torch.nn.Conv2d(4, 2, 1)

    def forward(self, x):
        return self.out(torch.relu(self.conv(x)))


class _SharedHead(torch.nn.Module):
    """One head on two levels of the same shape: only call order tells them apart."""

    def __init__(self):
        super().__init__()
        self.stem = torch.nn.Conv2d(3, 4, 3)
        self.head = _Head()

    def forward(self, x):
        a = self.stem(x)
        return self.head(a), self.head(a * 3.0)


def test_a_shared_head_pairs_each_call_with_its_own_tensor():
    torch.manual_seed(0)
    paired, values = _paired(_SharedHead(), torch.randn(1, 3, 8, 8))
    by_call = {(p.module, p.call): p for p in paired.values()}
    for module in ("head.conv", "head.out"):
        first, second = by_call[(module, 0)], by_call[(module, 1)]
        assert first.tensor != second.tensor
        for p in (first, second):
            np.testing.assert_allclose(values[p.tensor], p.reference, rtol=1e-5, atol=1e-5)
        # the two calls' values are 3x apart: a swapped pairing would be off by the whole tensor
        assert np.abs(first.reference - second.reference).max() > 0.1


class _ConvBn(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU())
        bn = self.body[1]
        bn.running_mean.uniform_(-2, 2)  # statistics far from identity: the Conv's and the BatchNorm's outputs differ
        bn.running_var.uniform_(0.2, 4)
        bn.weight.data.uniform_(0.5, 2)
        bn.bias.data.uniform_(-1, 1)

    def forward(self, x):
        return self.body(x)


def test_a_batchnorm_folded_into_its_conv_takes_the_conv_tensor():
    torch.manual_seed(0)
    module = _ConvBn()
    paired, values = _paired(module, torch.randn(1, 3, 8, 8))
    conv_out = "/body/body.0/Conv_output_0"
    assert conv_out in values, list(values)  # the exporter folded the BatchNorm: the Conv computes its output
    assert paired[conv_out].module == "body.1"
    np.testing.assert_allclose(values[conv_out], paired[conv_out].reference, rtol=1e-5, atol=1e-5)
    assert not any(p.module == "body.0" for p in paired.values())  # the Conv's own output is no tensor of the graph


class _Nested(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = torch.nn.Sequential(torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU()),
                                          torch.nn.Sequential(torch.nn.Conv2d(4, 4, 1), torch.nn.Sigmoid()))

    def forward(self, x):
        return self.blocks(x) * 2.0


def test_the_innermost_module_holds_a_tensor_several_modules_end_with():
    torch.manual_seed(0)
    paired, values = _paired(_Nested(), torch.randn(1, 3, 8, 8))
    modules = {name: p.module for name, p in paired.items()}
    # blocks.0.1's Relu ends blocks.0; blocks.1.1's Sigmoid ends blocks.1 and blocks: the leaf keeps each
    assert modules == {"/blocks/blocks.0/blocks.0.0/Conv_output_0": "blocks.0.0",
                       "/blocks/blocks.0/blocks.0.1/Relu_output_0": "blocks.0.1",
                       "/blocks/blocks.1/blocks.1.0/Conv_output_0": "blocks.1.0",
                       "/blocks/blocks.1/blocks.1.1/Sigmoid_output_0": "blocks.1.1"}, modules
    for name, p in paired.items():
        np.testing.assert_allclose(values[name], p.reference, rtol=1e-5, atol=1e-5)
