"""A family whose models give verification nothing to compare: ``zeros`` outputs a constant (all-zero) tensor,
``nodets`` is a detector that finds nothing on any input, ``somedets`` finds one box on one input only; and
``boolmask``, whose output is a thresholded (boolean) mask, for the fp16 bound on flipped elements."""
from deploybridge import hookimpl
from deploybridge.records import Family, LoadedModel, OutputSpec


def load(spec):
    import torch

    class Zeros(torch.nn.Module):
        def forward(self, x):
            return torch.nn.functional.avg_pool2d(x, 2) * 0.0

    class Detector(torch.nn.Module):
        def __init__(self, found):
            super().__init__()
            self.found = found

        def forward(self, x):
            # boxes above a score threshold the inputs reach only when `found` (somedets: the brightest input)
            score = x.mean().reshape(1) * (1.0 if self.found else 0.0)
            keep = score > 0.45
            boxes = torch.tensor([[2.0, 2.0, 20.0, 20.0]]) + x[0, 0, :1, :4] * 0.0
            return boxes[keep], score[keep], torch.ones(1, dtype=torch.int64)[keep]

    class BoolMask(torch.nn.Module):
        """A mask whose sign is float rounding on a few % of pixels: float64 flips some of them, so its noise floor (a
        flipped-element fraction) is small but not zero, as for a real mask head with pixels on the threshold."""

        def forward(self, x):
            rounding = (x * 1.1 + 0.3) * (1 / 1.1) - x - 0.3 / 1.1
            return (rounding[:, :1] > 0) & (x[:, :1] > 0.9)

    shape = (1, 3, 32, 32)
    make = lambda seed: (torch.rand(shape, generator=torch.Generator().manual_seed(seed)) * (0.95 if seed % 2 else 0.8),)  # noqa: E731
    if spec.model == "boolmask":
        return LoadedModel(module=BoolMask().eval(), input_names=["images"], outputs=[OutputSpec("mask")],
                           make_inputs=make, exporter_reason="test family")
    if spec.model == "zeros":
        return LoadedModel(module=Zeros().eval(), input_names=["images"], outputs=[OutputSpec("features")],
                           make_inputs=make, exporter_reason="test family")
    return LoadedModel(module=Detector(spec.model == "somedets").eval(), input_names=["images"],
                       outputs=[OutputSpec("boxes", True), OutputSpec("scores", True), OutputSpec("labels", True)],
                       make_inputs=make, exporter_reason="test family", task="detection")


@hookimpl
def deploy_register_families(register):
    register(Family(name="blank", load=load, models=("zeros", "nodets", "somedets", "boolmask"), description="nothing to compare"))
