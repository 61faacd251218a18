"""A test plugin whose model pools aligned RoIs (Detectron2's ROIAlignV2 pattern) and warns once on its own."""
import warnings

from deploybridge import hookimpl
from deploybridge.records import Family, LoadedModel, OutputSpec

UNKNOWN_WARNING = "db-test: a warning nobody has triaged"


def load(spec):
    import torch
    from torchvision.ops import roi_align

    class Pooler(torch.nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(spec.seed)
            self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
            # image-space boxes at scale 1/4; two of them under one feature pixel on a side
            self.register_buffer("boxes", torch.tensor([[0, 4.0, 6, 60, 50], [0, 10, 10, 12.5, 40], [0, 30, 7, 61, 9],
                                                        [0, 21, 33, 23, 34.5], [0, 0, 0, 64, 64]]))

        def forward(self, x):
            if torch.jit.is_tracing():  # only while exporting, so eager test runs stay quiet
                warnings.warn(UNKNOWN_WARNING)
            return roi_align(self.conv(x), self.boxes, (7, 7), 0.25, 0, aligned=True)

    return LoadedModel(
        module=Pooler().eval(), input_names=["images"], outputs=[OutputSpec("pooled")],
        make_inputs=lambda seed: (torch.rand((1, 3, 64, 64), generator=torch.Generator().manual_seed(seed)),),
        exporter_reason="test family",
    )


@hookimpl
def deploy_register_families(register):
    register(Family(name="rois", load=load, models=("roi-pooler",), description="aligned RoIAlign test family"))
