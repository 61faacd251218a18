"""x[i, j] with negative index tensors: silently wrong without the rewrite, exact with it."""
import pytest

from deploybridge_rewrites.negative_index import REWRITE, normalise_indices


def _indexer():
    import torch

    class Pick(torch.nn.Module):
        def forward(self, x, i, j):
            # two index tensors; with an ellipsis in front; and separated by a slice
            return x[i, j].sum(-1) + x[..., i, :][:, :, 0].sum(0)[:4] + x[i, :, j % 3 - 3].sum(-1)

    return Pick()


def _feeds():
    import torch

    g = torch.Generator().manual_seed(0)
    x = torch.rand(4, 5, 3, generator=g)
    return [(x, torch.tensor([0, -1, 2, -4]), torch.tensor([-1, 1, -5, 3])),
            (x, torch.tensor([-2, -3, 1, 3]), torch.tensor([4, -2, 0, -1]))]


@pytest.mark.parametrize("opset", [9, 11, 13, 17])
def test_wrong_without_exact_with(onnx_parity, opset):
    module, feeds = _indexer(), _feeds()
    without = onnx_parity(module, feeds[0], feeds, opset)
    assert without > 0.1, without  # measured 0.6-3.0: rows shifted, silently
    assert onnx_parity(module, feeds[0], feeds, opset, rewrites=[REWRITE]) <= 1e-6


def test_single_index_tensor_and_dynamo_are_already_right(onnx_parity, tmp_path):
    import torch

    class One(torch.nn.Module):
        def forward(self, x, j):
            return x[:, j]

    x = torch.rand(4, 5, 3)
    feeds = [(x, torch.tensor([-1, 1, -5, 3]))]
    assert onnx_parity(One(), feeds[0], feeds, 11) == 0.0
    module = _indexer()
    assert onnx_parity(module, _feeds()[0], _feeds(), 18, dynamo=True) <= 1e-6
    assert REWRITE.exporters == ("legacy",)


def test_normalised_indices_select_the_same_elements():
    import torch

    x = torch.arange(60.0).reshape(3, 4, 5)
    i, j = torch.tensor([-1, 0, -3]), torch.tensor([2, -4, -1])
    for index in [(i, j), (Ellipsis, i, j), (i, slice(None), j), (None, i, j), (i, j, 1), (torch.tensor([True, False, True]), j[:2]), (torch.tensor([True, False, True]), j[:2], i[:2])]:
        assert torch.equal(x[normalise_indices(x, index)], x[index]), index
    assert normalise_indices(x, (slice(None), j)) == (slice(None), j)  # one index tensor: left alone
