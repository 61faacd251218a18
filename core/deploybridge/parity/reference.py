"""The reference: the PyTorch model on a seeded (or user) input, as numpy, memoised per input so that the noise floor
and every parity check share one run."""
from __future__ import annotations

from typing import Callable

from deploybridge.errors import DeployError, first_line
from deploybridge.records import LoadedModel, ModelSpec


def reference_runner(loaded: LoadedModel, spec: ModelSpec) -> Callable[[int], tuple[dict, dict]]:
    """seed -> (inputs, reference outputs) as numpy dicts; memoised, since the noise floor and parity both need it."""
    import functools

    import torch

    @functools.cache
    def run(seed: int, shape: tuple | None = None) -> tuple[dict, dict]:
        inputs = loaded.make_inputs(seed) if shape is None else loaded.make_inputs_at(seed, shape)
        try:
            with torch.no_grad():
                out = loaded.module(*inputs)
        except DeployError:  # the model says itself what is wrong (e.g. an op a compatibility layer lacks)
            raise
        except Exception as exc:
            shape = "x".join(str(d) for d in inputs[0].shape)
            # where it was raised: a framework's bare `assert` has no message of its own
            raise DeployError(f"model '{spec.model}' fails on input {shape}: {first_line(exc, 200, where=True)}; check --input-shape") from exc
        out = (out,) if isinstance(out, torch.Tensor) else tuple(out)
        if len(out) != len(loaded.outputs):
            raise DeployError(f"family '{spec.family}' declares {len(loaded.outputs)} outputs but the model returned {len(out)}")
        as_np = lambda ts, names: {n: t.detach().cpu().numpy() for n, t in zip(names, ts)}  # noqa: E731
        return as_np(inputs, loaded.input_names), as_np(out, loaded.output_names)

    return run
