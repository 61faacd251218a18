"""Weights for a fastreid model: a local checkpoint (fastreid's ``{"model": state_dict}`` or a bare state dict),
or random weights given real batch-norm statistics so their embeddings differ from image to image."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from deploybridge.errors import DeployError, first_line

CLASSIFIER = "heads.weight"  # the training-only classifier: its size is the training set's identity count


def load_weights(model, path: str) -> None:
    import torch

    if not Path(path).is_file():
        raise DeployError(f"--weights {path}: no such file; give a local fastreid checkpoint (.pth)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise DeployError(f"--weights {path}: not a checkpoint torch can read safely ({first_line(exc, 120)})") from None
    state = state.get("model", state) if isinstance(state, dict) else state
    if not isinstance(state, dict):
        raise DeployError(f"--weights {path}: holds no state dict")
    state = {k.removeprefix("module."): v for k, v in state.items()}
    own = model.state_dict()
    if CLASSIFIER in state and CLASSIFIER in own and state[CLASSIFIER].shape != own[CLASSIFIER].shape:
        state[CLASSIFIER] = own[CLASSIFIER]  # never used at inference; another identity count is not an error
    missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if tuple(own[k].shape) != tuple(state[k].shape))
    for what, keys in (("lacks", missing), ("has keys this model does not", unexpected), ("has other shapes for", wrong)):
        if keys:
            raise DeployError(f"--weights {path} {what}: {', '.join(keys[:3])}{' ...' if len(keys) > 3 else ''}"
                              f" ({len(keys)} keys); is it a checkpoint of this config? (--config, --option)")
    model.load_state_dict(state)


def calibrate_random(model, batches: Sequence) -> int:
    """Batch-norm running statistics from ``batches`` (0-255 images), as training would have left them; returns the
    number of norms set. Initial statistics (mean 0, variance 1) let activations grow layer by layer until every
    image's embedding points the same way, and parity on those compares nothing."""
    import torch

    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average over the batches
        m.train()
    with torch.no_grad():
        for images in batches:
            model(images.clone())
    model.eval()
    return len(norms)
