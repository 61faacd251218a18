"""A test plugin with a wrong rewrite: one convolution's output scaled by 1.01 while exporting (`deploy debug` must
name it). The test picks the convolution: ``TARGET(conv) -> bool``."""
from deploybridge import hookimpl
from deploybridge.records import Rewrite

TARGET = None


def _scaled(original):
    def forward(self, x):
        y = original(self, x)
        return y * 1.01 if TARGET is not None and TARGET(self) else y

    return forward


@hookimpl
def deploy_register_rewrites(register):
    register(Rewrite("scale_one_conv", "function", "torch.nn.Conv2d.forward", replacement=_scaled, wrap=True,
                     why="planted wrong rewrite: scales one convolution's output by 1.01"))
