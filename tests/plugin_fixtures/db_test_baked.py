"""A tiny box "detector" for the checks `deploy convert` and `deploy verify` share (parity.verification.run_checks).

Its five boxes are as tall as the input, so a size baked into the graph shows at any other size. Options:
``dynamic=true`` exports H and W dynamic (verified at 48x48 too); ``bake=true`` reads H as a Python number while
tracing, so the graph keeps 32 (what the dynamo exporter does to SOLO's CoordConv grid); ``framework=`` gives the
framework's own predict: ``same`` (the wrapper's outputs), ``shifted`` (scores + 0.01), ``missing`` (its module cannot
be imported), ``none`` (the family has none; the default); ``label_output=classes`` names the labels as Detectron2 does.
"""
from deploybridge import hookimpl
from deploybridge.records import Family, LoadedModel, OutputSpec


def load(spec):
    import torch

    def on(key):
        return str(spec.options.get(key, "")).lower() == "true"

    bake = on("bake")
    label_output = str(spec.options.get("label_output", "labels"))

    class Boxes(torch.nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(spec.seed)
            self.conv = torch.nn.Conv2d(3, 5, 3, padding=1)

        def forward(self, x):
            height = float(x.shape[2]) if bake else torch.ones_like(x[0, 0, :, 0]).sum()
            scores = torch.sigmoid(self.conv(x).mean(dim=(2, 3)).reshape(5) * 4)
            left = torch.arange(5, dtype=torch.float32) * 3.0 + x[0, 0, 0, :1] * 0.0
            boxes = torch.stack([left, left * 0.0, left + 8.0, left * 0.0 + height], 1)
            return boxes, scores, torch.arange(5) % 2 + 1

    def make_at(seed, shape):
        return (torch.rand(tuple(shape), generator=torch.Generator().manual_seed(seed)),)

    module = Boxes().eval()
    kind = str(spec.options.get("framework", "none"))

    def framework(inputs):
        if kind == "missing":
            import db_test_no_such_framework  # noqa: F401
        with torch.no_grad():
            boxes, scores, labels = (t.numpy() for t in module(*inputs))
        return {"boxes": boxes, "scores": scores + (0.01 if kind == "shifted" else 0.0), label_output: labels}

    dynamic = on("dynamic")
    return LoadedModel(
        module=module, input_names=["images"], make_inputs=lambda seed: make_at(seed, (1, 3, 32, 32)),
        outputs=[OutputSpec("boxes", True), OutputSpec("scores", True), OutputSpec(label_output, True)],
        exporter_reason="test family", task="detection",
        dynamic_axes={"images": {2: "height", 3: "width"}} if dynamic else None,
        other_shapes=[(1, 3, 48, 48)], make_inputs_at=make_at,
        framework_reference=None if kind == "none" else framework, framework_name="the test framework",
    )


@hookimpl
def deploy_register_families(register):
    register(Family(name="baked", load=load, models=("boxes",), description="test: bakes its input size on request"))
