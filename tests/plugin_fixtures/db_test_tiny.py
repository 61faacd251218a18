"""A test plugin that uses most hooks: a tiny family, a perturbed and a missing
backend, a rewrite, graph passes, a command, family detection and a
convert-finished listener (host ops and known warnings have their own fixtures). Installed by the ``fake_plugin`` fixture."""
import numpy as np

from deploybridge import hookimpl
from deploybridge.records import Backend, Family, GraphPass, LoadedModel, OutputSpec, Rewrite

FINISHED = []


def scale(x):
    return x * 2.0


def scale_by_three(x):
    return x * 3.0


class Tiny:
    """Built lazily so importing the plugin does not import torch."""

    @staticmethod
    def build(seed):
        import torch

        class TinyNet(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.conv1 = torch.nn.Conv2d(3, 8, 3, padding=1)
                self.conv2 = torch.nn.Conv2d(8, 4, 3, padding=1)

            def forward(self, x):
                import db_test_tiny

                return db_test_tiny.scale(self.conv2(torch.relu(self.conv1(x))))

        torch.manual_seed(seed)
        return TinyNet().eval()


def load(spec):
    import torch

    from deploybridge.errors import DeployError

    model = Tiny.build(spec.seed)
    if spec.weights:
        model.load_state_dict(torch.load(spec.weights, weights_only=True))
    shape = tuple(spec.input_shape or (1, 3, 32, 32))
    if len(shape) != 4 or shape[1] != 3:
        raise DeployError(f"tiny-net takes N,3,H,W; got {shape}")
    return LoadedModel(
        module=model,
        input_names=["images"],
        outputs=[OutputSpec("features")],
        make_inputs=lambda seed: (torch.rand(shape, generator=torch.Generator().manual_seed(seed)),),
        exporter_reason="test family",
    )


@hookimpl
def deploy_register_families(register):
    register(Family(name="tiny", load=load, models=("tiny-net",), description="test family"))


def _ort():
    from deploybridge.runtime.backends.onnxruntime import BACKEND

    return BACKEND


def _ort_then(transform):
    """A backend loader: ONNX Runtime, then ``transform(outputs, manifest)`` on every result."""

    def load(artifact_dir, manifest, options):
        run = _ort().load(artifact_dir, manifest, options)
        return lambda inputs: transform(run(inputs), manifest)

    return load


def _perturb(out, manifest):
    return {k: (v + np.float32(1e-2) if v.dtype.kind == "f" else v) for k, v in out.items()}


def _shift_boxes(out, manifest):
    return {k: (v + np.float32(5.0) if k == "boxes" else v) for k, v in out.items()}


def _drop_last_detection(out, manifest):
    per_detection = {o["name"] for o in manifest.get("outputs", []) if o.get("per_detection")} or {"boxes", "scores", "labels", "masks"}
    return {k: (v[:-1] if k in per_detection else v) for k, v in out.items()}


def _fail_at_run(inputs):
    raise RuntimeError("Non-zero status code returned while running Reshape node")


def _explode_build(onnx_path, out_dir, options):
    (out_dir / "engine.bin").write_bytes(b"half")
    raise RuntimeError("engine builder crashed half-way")


@hookimpl
def deploy_register_backends(register):
    register(Backend("perturbed", unavailable=lambda: None, build=lambda p, d, o: _ort().build(p, d, o),
                     load=_ort_then(_perturb), description="ONNX Runtime with outputs shifted by 1e-2"))
    register(Backend("missingrt", unavailable=lambda: "missingrt is not installed; run `pip install missingrt`",
                     build=None, load=None))
    register(Backend("shifted", unavailable=lambda: None, build=lambda p, d, o: _ort().build(p, d, o),
                     load=_ort_then(_shift_boxes), description="ONNX Runtime with boxes moved by 5 px"))
    register(Backend("dropping", unavailable=lambda: None, build=lambda p, d, o: _ort().build(p, d, o),
                     load=_ort_then(_drop_last_detection), description="ONNX Runtime that loses the last detection"))
    register(Backend("crashing", unavailable=lambda: None, build=_explode_build, load=None))
    register(Backend("failing_run", unavailable=lambda: None, build=lambda p, d, o: _ort().build(p, d, o),
                     load=lambda d, m, o: _fail_at_run, description="builds, then fails on every input"))


@hookimpl
def deploy_register_rewrites(register):
    register(Rewrite(name="tiny_scale_by_three", kind="function", target="db_test_tiny.scale",
                     replacement=scale_by_three, why="test: changes what gets exported", opsets=(13, 13)))


def add_identity(graph, ctx):
    import onnx_graphsurgeon as gs

    out = graph.outputs[0]
    inner = gs.Variable(out.name + "_pre", dtype=out.dtype, shape=out.shape)
    producer = out.inputs[0]
    producer.outputs[producer.outputs.index(out)] = inner
    graph.nodes.append(gs.Node("Identity", inputs=[inner], outputs=[out]))
    return graph


def explode(graph, ctx):
    raise ValueError("pass exploded")


@hookimpl
def deploy_register_graph_passes(register):
    register(GraphPass(name="tiny_identity", run=add_identity, description="adds an Identity before the output", order=5))
    register(GraphPass(name="tiny_explode", run=explode, description="always fails", order=1))


@hookimpl
def deploy_register_commands(app):
    @app.command("tiny-hello")
    def hello(name: str = "world"):
        """Say hello (test command)."""
        print(f"hello {name} from tiny")


@hookimpl
def deploy_detect_family(spec):
    return "tiny" if spec.model == "tiny-net" else None


@hookimpl
def deploy_convert_finished(result):
    FINISHED.append(result)
