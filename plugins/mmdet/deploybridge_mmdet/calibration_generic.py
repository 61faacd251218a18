"""--random-weights made informative for any MMDetection head, measured by MMDetection's own ``predict``.

calibration.py knows RetinaNet's and Faster/Mask R-CNN's classifiers layer by layer. Every other head (FCOS, YOLOX,
DETR, Cascade R-CNN, CondInst, ...) is calibrated here without knowing how it composes its scores: its class-logit
layers are found by their output width (a multiple of the class count, or of the class count plus a background
channel for softmax heads), their logits spread to a fixed std (random logits cluster within a few hundredths, so
the top-k and NMS decide among near-ties), then one offset is added to every foreground logit, found by bisection on
the number of detections ``predict`` returns for the least-detecting calibration image. Where that number does not
depend on the scores (DETR's top-k keeps a fixed count), what matters is the ranking: each class logit is spread
across queries (a random decoder's queries collapse, ``_spread``), and the offset lowers the scores until the
highest is at most TOP_SCORE: spread logits put DETR's top-100 sigmoid scores at 0.995-0.9997, where float32 keeps
too few digits to order them and a backend's 1e-7 reorders the top-k cut. The calibration images are never verification
inputs; the calibrated weights are the model's, so the artifact and ``predict`` share them.
"""
from __future__ import annotations

from typing import Callable, Sequence

MIN_DETECTIONS = 5  # on the least-detecting calibration image
SPREAD = 2.0  # std of the class logits after rescaling
BOX_SPREAD = 0.5  # std of box regressions after rescaling: exp() of a random regression made boxes 5000 px wide
TOP_SCORE = 0.9  # the highest sigmoid score of a fixed-count head after calibration (its slope there is 0.09)
SEARCH = (-12.0, 12.0)
STEPS = 9


def num_classes(model) -> int | None:
    """The detector's class count, from its box head (a cascade's first stage)."""
    head = getattr(model, "bbox_head", None)
    if head is None and hasattr(model, "roi_head"):
        head = model.roi_head.bbox_head
        head = head[0] if hasattr(head, "__getitem__") else head
    return getattr(head, "num_classes", None)


def class_layers(model) -> list[tuple[object, bool]]:
    """(layer, softmax) for every conv/linear layer of the detection heads whose outputs are class logits: its
    width a small multiple of C (sigmoid heads) or of C + 1 (softmax heads, background channel last)."""
    import torch

    classes = num_classes(model)
    if not classes:
        return []
    found = []
    for part in ("bbox_head", "roi_head"):
        head = getattr(model, part, None)
        if head is None:
            continue
        for name, layer in head.named_modules():
            if not isinstance(layer, (torch.nn.Conv2d, torch.nn.Linear)) or "cls" not in name or layer.bias is None:
                continue
            width = getattr(layer, "out_channels", getattr(layer, "out_features", 0))
            for per, softmax in ((classes + 1, True), (classes, False)):
                if width % per == 0 and width // per <= 9:
                    found.append((layer, softmax))
                    break
    return found


def _foreground(layer, softmax: bool, classes: int):
    import torch

    width = layer.bias.shape[0]
    if not softmax:
        return torch.ones(width, dtype=torch.bool)
    return torch.arange(width) % (classes + 1) != classes


def _without_bias(layer, output):
    """The part of ``output`` the weights make, as (values, channels): a per-channel bias (PyTorch's default init for
    RTMDet's 1x1 class convs) would otherwise count as spread, and RTMDet's logits stayed within 0.06 (300 near-tied
    scores)."""
    import torch

    if isinstance(layer, torch.nn.Conv2d):  # channels on dim 1; a Linear's are last
        output = output.detach().movedim(1, -1)
    values = output.detach() - layer.bias.detach()
    return values.reshape(-1, values.shape[-1])


def _spread(layers, run_all: Callable[[], None], spread: float, per_channel: bool = False) -> None:
    """Rescale each layer's weights so its outputs have std ``spread`` over the calibration images: over all its
    outputs, or ``per_channel`` (each class logit across positions and queries, centred on its bias). Per channel
    because a random transformer decoder's queries collapse: Conditional DETR's class logits varied 0.6 across classes
    and 0.017 across its 300 queries, so one class took every top-k slot, all within 0.0004 of each other."""
    import torch

    seen: dict[int, list] = {id(layer): [] for layer in layers}
    hooks = [layer.register_forward_hook(lambda m, i, o: seen[id(m)].append(_without_bias(m, o))) for layer in layers]
    try:
        run_all()
    finally:
        for hook in hooks:
            hook.remove()
    with torch.no_grad():
        for layer in layers:
            values = torch.cat(seen[id(layer)]) if seen[id(layer)] else None
            if values is None or len(values) < 2:
                continue
            if not per_channel:
                std = float(values.std())
                if std > 0:
                    layer.weight.mul_(spread / std)
                continue
            std, mean = values.std(0), values.mean(0)
            scale = torch.where(std > 0, spread / std.clamp(min=1e-12), torch.ones_like(std))
            layer.weight.mul_(scale.view(-1, *([1] * (layer.weight.dim() - 1))))
            layer.bias.sub_(scale * mean)


def calibrate_by_predict(model, images: Sequence, count: Callable[[object], int],
                         top_score: Callable[[object], float] | None = None) -> dict:
    """Make ``model`` (random weights) detect at least MIN_DETECTIONS objects on every image, where ``count(image)``
    is the number of detections MMDetection's predict returns and ``top_score(image)`` its highest score. Returns
    what was done (for the manifest/log)."""
    import torch

    layers = class_layers(model)
    if not layers:
        return {"calibrated": False, "why": "no class-logit layer found"}
    classes = num_classes(model)
    run_all = lambda: [count(image) for image in images]  # noqa: E731
    _spread(box_layers(model), run_all, BOX_SPREAD)
    _spread([layer for layer, _ in layers], run_all, SPREAD)
    base = [layer.bias.detach().clone() for layer, _ in layers]
    masks = [_foreground(layer, softmax, classes) for layer, softmax in layers]

    def shift(offset: float) -> None:
        with torch.no_grad():
            for (layer, _), bias, mask in zip(layers, base, masks):
                layer.bias.copy_(bias + offset * mask.to(bias.dtype))

    def least(offset: float) -> int:
        shift(offset)
        return min(count(image) for image in images)

    low, high = SEARCH
    if least(low) >= MIN_DETECTIONS:  # the count does not depend on the scores (DETR's top-k): rank, not count
        shift(0.0)
        _spread([layer for layer, _ in layers], run_all, SPREAD, per_channel=True)
        base[:] = [layer.bias.detach().clone() for layer, _ in layers]
        offset = _unsaturated(shift, lambda: max(top_score(image) for image in images)) if top_score else 0.0
        return {"calibrated": True, "offset": offset, "layers": len(layers), "per_class_spread": True}
    if least(high) < MIN_DETECTIONS:
        return {"calibrated": False, "why": f"fewer than {MIN_DETECTIONS} detections even with every class logit +{high}"}
    for _ in range(STEPS):  # the smallest offset that meets the count: no image saturates max_per_img needlessly
        middle = (low + high) / 2
        if least(middle) >= MIN_DETECTIONS:
            high = middle
        else:
            low = middle
    found = least(high)
    return {"calibrated": True, "offset": high, "layers": len(layers), "least_detections": found}


def _unsaturated(shift: Callable[[float], None], highest: Callable[[], float]) -> float:
    """The largest offset <= 0 (applied by ``shift``) whose highest score is at most TOP_SCORE, by bisection."""
    shift(0.0)
    if highest() <= TOP_SCORE:
        return 0.0
    low, high = SEARCH[0], 0.0
    for _ in range(STEPS):
        middle = (low + high) / 2
        shift(middle)
        if highest() <= TOP_SCORE:
            low = middle
        else:
            high = middle
    shift(low)
    return low


def box_layers(model) -> list:
    """The conv/linear layers whose outputs are box regressions (a few values per prior: 4, or 4 x bins for GFL)."""
    import torch

    found = []
    for part in ("bbox_head", "roi_head"):
        head = getattr(model, part, None)
        for name, layer in head.named_modules() if head is not None else []:
            width = getattr(layer, "out_channels", getattr(layer, "out_features", 0))
            if isinstance(layer, (torch.nn.Conv2d, torch.nn.Linear)) and "reg" in name and width % 4 == 0 and width <= 80:
                found.append(layer)
    return found
