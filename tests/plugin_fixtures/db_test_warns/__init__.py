"""A test plugin whose model makes the tracer warn from its own ``_utils.py`` (module ``db_test_warns._utils``): the
same file name and message as torchvision's BoxCoder warning, from code nobody has looked at."""
from deploybridge import hookimpl
from deploybridge.records import Family, LoadedModel, OutputSpec


def load(spec):
    import torch

    from db_test_warns import _utils

    class Warner(torch.nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(spec.seed)
            self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)

        def forward(self, x):
            return _utils.keep_if_any(self.conv(x))

    return LoadedModel(
        module=Warner().eval(), input_names=["images"], outputs=[OutputSpec("features")],
        make_inputs=lambda seed: (torch.rand((1, 3, 16, 16), generator=torch.Generator().manual_seed(seed)),),
        exporter_reason="test family",
    )


@hookimpl
def deploy_register_families(register):
    register(Family(name="warns", load=load, models=("warner",), description="warns from its own _utils.py"))
