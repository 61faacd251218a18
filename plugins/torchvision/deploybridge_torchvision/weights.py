"""Where weights come from: a local checkpoint, the local torch cache, or a
seeded random init that is made non-degenerate. Never a download."""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from deploybridge.errors import DeployError


def _state_dict(obj) -> dict:
    if isinstance(obj, dict):
        for key in ("model", "state_dict", "model_state_dict"):
            if key in obj and isinstance(obj[key], dict):
                return obj[key]
        return obj
    raise DeployError("checkpoint is not a state_dict; save it with torch.save(model.state_dict(), path)")


def load_state(model: nn.Module, path: Path) -> None:
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise DeployError(f"weights file {path} not found; give an existing checkpoint path") from None
    except Exception as exc:
        raise DeployError(f"cannot read {path} as a torch checkpoint ({type(exc).__name__}); save it with torch.save(model.state_dict(), path)") from None
    state = {k.removeprefix("module."): v for k, v in _state_dict(obj).items()}
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [k for k in own if k in state and tuple(own[k].shape) != tuple(state[k].shape)]
    if missing or unexpected or wrong:
        first = (missing + unexpected + wrong)[:3]
        raise DeployError(
            f"{path} does not fit this model: {len(missing)} missing, {len(unexpected)} unexpected, {len(wrong)} wrong-shape keys"
            f" (first: {', '.join(first)}); check --model and --option num_classes=N"
        )
    model.load_state_dict(state)


def cached_pretrained_path(model_name: str, weights_name: str) -> Path:
    """The local torch-cache file of torchvision's ``weights_name`` weights, or a DeployError."""
    import torchvision

    try:
        enum = torchvision.models.get_model_weights(model_name)
        weights = enum[weights_name] if weights_name != "DEFAULT" else enum.DEFAULT
    except (KeyError, ValueError):
        names = ", ".join(["DEFAULT"] + [w.name for w in torchvision.models.get_model_weights(model_name)])
        raise DeployError(f"'{weights_name}' is neither a file nor a pretrained weights name of {model_name} ({names})") from None
    path = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
    if not path.is_file():
        raise DeployError(
            f"pretrained weights {model_name}/{weights.name} are not in the local torch cache ({path}) and deploybridge never"
            f" downloads; copy the file there or pass --weights FILE / --random-weights"
        )
    return path


@torch.no_grad()
def make_non_degenerate(model: nn.Module, forward, batches: list, heads: dict[str, tuple[float, float]],
                        counts: dict[str, tuple[str, int]] | None = None, threshold: float = 0.05,
                        statistics_batches: int = 4) -> None:
    """Calibrate a randomly initialised model so its outputs are informative.

    ``forward(batch)`` runs the model on one of the calibration ``batches`` (a detector: one image each). BatchNorm
    statistics are set from real activations on all of them, then each head layer is rescaled so its outputs have
    the given mean and std (measured on the first ``statistics_batches``: each pass is a forward per image), in
    forward order. For layers in ``counts`` (measured on every batch) the bias is then shifted so that at least about ``target`` scores pass
    ``threshold`` on *every* calibration image, not on average: a random detector's logits spread ~2x wider on
    one image than on another (their mean stays put), so a count met on average leaves some images with none. The
    widest-spread images then keep many more, up to the detector's own caps.
    """
    few = batches[:statistics_batches]
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    # a BatchNorm that sees one value per channel (SSDlite's last extra layers, 1x1 at 320²) cannot measure
    # statistics from one image: it keeps its initial ones
    values: dict[nn.Module, int] = {}
    hooks = [m.register_forward_pre_hook(lambda mod, inp: values.__setitem__(mod, inp[0].numel() // inp[0].shape[1]))
             for m in bns]
    forward(batches[0])
    for hook in hooks:
        hook.remove()
    bns = [m for m in bns if values.get(m, 2) > 1]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the calibration pass
        m.train()
    for batch in batches:
        forward(batch)
    for m in bns:
        m.eval()
        m.momentum = 0.1
    for name, (mean, std) in heads.items():
        layer = model.get_submodule(name)
        seen: list[list[torch.Tensor]] = []  # per batch, every call's output (heads run once per feature level)
        handles = [layer.register_forward_hook(lambda _m, _i, out: seen[-1].append(_per_channel(_m, out.detach())))]
        if "." in name:  # the rest of the model (masks pasted for every detection, ...) is not needed: stop there
            handles.append(_caller(model, name).register_forward_hook(_stop))
        for batch in batches if counts and name in counts else few:
            seen.append([])
            try:
                forward(batch)
            except _Stop:
                pass
        for handle in handles:
            handle.remove()
        per_batch = [torch.cat(calls) for calls in seen if calls]
        values = torch.cat(per_batch) if per_batch else torch.empty(0)
        if values.shape[0] < 2:
            continue
        # per output channel: a shared positive feature mean would otherwise make one class win everywhere
        centre, scale = values.mean(0), std / values.std(0).clamp_min(1e-12)
        # a transposed convolution (Keypoint R-CNN's heatmap layer) keeps its output channels on the weight's dim 1
        out_dim = 1 if isinstance(layer, nn.modules.conv._ConvTransposeNd) else 0
        layer.weight.mul_(scale.view([-1 if d == out_dim else 1 for d in range(layer.weight.dim())]))
        layer.bias.copy_((layer.bias - centre) * scale + mean)
        if counts and name in counts:
            mode, target = counts[name]
            _shift_to_count(layer, [(v - centre) * scale + mean for v in per_batch], mode, target, threshold)


class _Stop(Exception):
    """Raised by a hook once the layer being calibrated has run on the whole input."""


def _stop(*_args) -> None:
    raise _Stop


def _caller(model: nn.Module, name: str) -> nn.Module:
    """The module whose forward runs layer ``name``: its parent, or above a ModuleList (SSD's per-level heads), which
    is indexed, never called."""
    parent = name.rpartition(".")[0]
    while parent and isinstance(model.get_submodule(parent), nn.ModuleList):
        parent = parent.rpartition(".")[0]
    return model.get_submodule(parent)


def _per_channel(layer: nn.Module, out: torch.Tensor) -> torch.Tensor:
    """Rows of output values, one column per output channel."""
    if isinstance(layer, nn.Linear):
        return out.reshape(-1, out.shape[-1])
    return out.movedim(1, -1).reshape(-1, out.shape[1])


def _shift_to_count(layer: nn.Module, per_image: list[torch.Tensor], mode: str, target: int, threshold: float) -> None:
    """Shift ``layer``'s bias so that the calibration image with the fewest passing scores has about ``target``."""
    if mode == "sigmoid":
        # every logit is one (anchor, class) score: the image whose target-th largest is lowest puts it on the threshold
        kth = min(float(torch.topk(v.flatten(), min(target, v.numel())).values[-1]) for v in per_image)
        layer.bias.add_(float(torch.logit(torch.tensor(threshold))) - kth + 0.5)
        return
    # softmax with background at index 0: raise the background logit until the image with the fewest passing
    # (proposal, class) pairs keeps about target of them with a foreground probability above the threshold.
    # "softmax/K": a convolution with K classes for each of its anchors (SSD): every anchor's background moves
    classes = int(mode.partition("/")[2] or per_image[0].shape[-1])
    shift = min(_background_shift(logits.reshape(-1, classes), target, threshold) for logits in per_image)
    layer.bias[0::classes] += shift


def _background_shift(logits: torch.Tensor, target: int, threshold: float) -> float:
    def passing(shift: float) -> int:
        shifted = logits.clone()
        shifted[:, 0] += shift
        return int((shifted.softmax(-1)[:, 1:] > threshold).sum())

    lo, hi = -50.0, 50.0
    for _ in range(40):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if passing(mid) > target else (lo, mid)
    return hi
