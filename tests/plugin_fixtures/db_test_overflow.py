"""A test plugin whose middle convolution overflows float16: ``big``'s activations reach about 2e5 (float16's largest
is 65504) and ``small`` brings them back below 1, so the float32 model is fine and `deploy debug --fp16` must name
``big``'s Conv as the layer that overflows. Installed by ``fake_plugin("overflow", "db_test_overflow")``."""
from deploybridge import hookimpl
from deploybridge.records import Family, LoadedModel, OutputSpec

BIG = 4e5  # |weights| times this: big's largest output about 2e5 on inputs in [0, 1)


def build(seed):
    import torch

    class OverflowNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = torch.nn.Conv2d(3, 8, 3, padding=1)
            self.big = torch.nn.Conv2d(8, 8, 3, padding=1)
            self.small = torch.nn.Conv2d(8, 4, 1)

        def forward(self, x):
            return self.small(torch.relu(self.big(torch.relu(self.stem(x)))))

    torch.manual_seed(seed)
    net = OverflowNet().eval()
    with torch.no_grad():
        net.big.weight.abs_().mul_(BIG)  # positive: every term adds, the sums leave float16's range
        net.small.weight.mul_(1.0 / BIG)
    return net


def load(spec):
    import torch

    shape = tuple(spec.input_shape or (1, 3, 32, 32))
    return LoadedModel(module=build(spec.seed), input_names=["images"], outputs=[OutputSpec("features")],
                       make_inputs=lambda seed: (torch.rand(shape, generator=torch.Generator().manual_seed(seed)),),
                       exporter_reason="test family")


@hookimpl
def deploy_register_families(register):
    register(Family(name="overflow", load=load, models=("overflow-net",), description="test: float16 overflow"))
