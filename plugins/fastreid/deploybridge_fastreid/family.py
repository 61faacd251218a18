"""The ``fastreid`` family: a fastreid model (this plugin's named configs or a fastreid YAML, local checkpoint or
calibrated random weights) as an embedder: images (0-255 RGB, N x 3 x H x W) in, ``features`` (N x D) out."""
from __future__ import annotations

from pathlib import Path

from deploybridge.errors import DeployError, first_line
from deploybridge.parity.synthetic_inputs import calibration_seeds
from deploybridge.records import LoadedModel, ModelSpec, OutputSpec, Task, Tolerance

BATCH = 8  # a verification input is a small gallery: its rows pair up as queries and their true matches
CALIBRATION_BATCHES = 4
CHECKPOINTS = Path(__file__).parent / "checkpoints"
PLUGIN_OPTIONS = {"l2_normalize": "L2-normalise the features in the graph (fastreid's evaluator does it outside)"}
# seed 003: fastreid's tools/deploy README checks every export with this bound
FASTREID_CHECK = Tolerance(atol=1e-6, rtol=1e-3, basis="fastreid's own check assert_allclose(rtol=1e-3, atol=1e-6)")
EXPORTER_REASON = "a CNN and a pooling head: the legacy exporter traces it exactly (the dynamo exporter works too)"


def preprocessing(cfg, shape, normalize: bool) -> dict:
    """fastreid's input contract: the model normalises inside (Baseline.preprocess_image), so the artifact takes
    0-255 RGB, resized to INPUT.SIZE_TEST without keeping the aspect ratio (fastreid's test transform)."""
    return {
        "source": "fastreid config",
        "input": "float32 RGB 0-255, N x 3 x H x W",
        "value_range": "0-255 float, before normalisation (the graph normalises)",
        "loaded_channel_order": "RGB",
        "mean": [float(v) for v in cfg.MODEL.PIXEL_MEAN],
        "std": [float(v) for v in cfg.MODEL.PIXEL_STD],
        "normalization": "inside the graph ((x - mean) / std, fastreid's preprocess_image): do not normalise before"
                         " feeding, or the images are normalised twice",
        "resize": f"to {shape[2]}x{shape[3]} (INPUT.SIZE_TEST), aspect ratio not kept",
        "features": "L2-normalised in the graph" if normalize else "not normalised (compare them by cosine similarity)",
    }


def example_images(seed: int, shape) -> tuple:
    """A batch of re-id set test identities, in pairs (deploybridge_fastreid.reid_shapes.pairs_batch)."""
    import torch

    from deploybridge_fastreid.reid_shapes import pairs_batch

    return (torch.from_numpy(pairs_batch(seed, int(shape[0]), (int(shape[2]), int(shape[3])))),)


def load(spec: ModelSpec) -> LoadedModel:
    import torch

    from deploybridge_fastreid import config as cfgmod
    from deploybridge_fastreid.weights import calibrate_random, load_weights
    from deploybridge_fastreid.wrapper import Embedder

    name = spec.config or spec.model or cfgmod.DEFAULT_MODEL
    options = dict(spec.options)
    normalize = _flag(options.pop("l2_normalize", False))
    weights = spec.weights or (str(CHECKPOINTS / f"{name}.pth") if (CHECKPOINTS / f"{name}.pth").is_file() else None)
    if not weights and not spec.random_weights:
        raise DeployError(f"give --weights CHECKPOINT (a local fastreid .pth: nothing is downloaded) or --random-weights"
                          f" for {name}")
    cfg = cfgmod.make_cfg(name, options)
    torch.manual_seed(spec.seed)
    try:
        from fastreid.modeling import build_model

        model = build_model(cfg).eval()
    except Exception as exc:
        raise DeployError(f"fastreid cannot build {name}: {first_line(exc, 160)}") from None
    h, w = (int(v) for v in cfg.INPUT.SIZE_TEST)
    shape = tuple(spec.input_shape or (BATCH, 3, h, w))
    if len(shape) != 4 or shape[1] != 3:
        raise DeployError(f"input shape {shape} must be N,3,H,W (a batch of RGB crops)")
    if weights and not spec.random_weights:
        load_weights(model, weights)
    else:
        calibrate_random(model, [example_images(s, (BATCH, 3, *shape[2:]))[0]
                                 for s in calibration_seeds(spec.seed, CALIBRATION_BATCHES)])
    module = Embedder(model, normalize).eval()
    other = [(max(1, shape[0] // 2), *shape[1:])] if shape[0] > 1 else [(2, *shape[1:])]
    return LoadedModel(
        module=module,
        input_names=["images"],
        outputs=[OutputSpec("features")],
        make_inputs=lambda seed: example_images(seed, shape),
        make_inputs_at=lambda seed, at: example_images(seed, at),
        exporter_reason=EXPORTER_REASON,
        dynamic_axes={"images": {0: "batch"}, "features": {0: "batch"}},
        other_shapes=other,  # another batch size, so a batch baked into the graph is caught
        preprocessing=preprocessing(cfg, shape, normalize),
        task=Task.EMBEDDING,
        peer_check=FASTREID_CHECK,
    )


def _flag(value) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise DeployError(f"--option l2_normalize={value}: give true or false")
