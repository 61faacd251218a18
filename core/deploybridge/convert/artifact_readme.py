"""README.md of every artifact folder: how to use the artifact without deploybridge (seed 004 deploys from Rust).

It states what the model is and how its input is prepared, every input and output (name, dtype, shape), a Python
(onnxruntime + numpy) and a C++ (ONNX Runtime C++ API) program that run it, and for a segmented artifact the steps
in order with each host step's exact semantics (``HostOp.semantics``) and tensors. Written before the manifest, so
the manifest lists its checksum like every other file's. tests/convert/test_artifact_readme.py follows only this
text, in a process without deploybridge, and gets the verified outputs.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np

from deploybridge.convert.artifact_readme_code import Program, Step, cpp_snippet, python_snippet

README = "README.md"
MODEL = "model.onnx"


def write(folder: Path, manifest: Mapping[str, Any], host_ops: Mapping[str, Any] | None = None) -> None:
    import onnx

    model = onnx.load(str(Path(folder) / MODEL), load_external_data=False)
    (Path(folder) / README).write_text(render(manifest, model, host_ops or {}))


def example_shapes(manifest: Mapping[str, Any]) -> dict[str, list[int]]:
    """A concrete shape per input: its fixed dims, and for named ones the verified (opt) size where known, else 1."""
    pre = manifest.get("preprocessing") or {}
    hint = (pre.get("dynamic") or {}).get("opt") or pre.get("shape")
    shapes = {}
    for k, value in enumerate(manifest["inputs"]):
        dims = value["shape"]
        known = hint if k == 0 and hint and len(hint) == len(dims) else [1] * len(dims)
        shapes[value["name"]] = [d if isinstance(d, int) and d > 0 else int(known[i]) for i, d in enumerate(dims)]
    return shapes


def _constants(model) -> dict[str, np.ndarray]:
    from onnx import numpy_helper

    values = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            values[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    return values


def program(manifest: Mapping[str, Any], model) -> Program:
    """The artifact's steps: model.onnx alone, or its engine segments and host steps in order (runtime.segments.plan,
    the plan the manifest's "segments" describes), with the model.onnx constants the host steps read."""
    from onnx import helper

    from deploybridge.runtime import segments

    inputs = [dict(i) for i in manifest["inputs"]]
    outputs = [o["name"] for o in manifest["outputs"]]
    if not segments.has_host_steps(model):
        step = Step("engine", [i["name"] for i in inputs], outputs, file=MODEL)
        return Program(inputs, outputs, example_shapes(manifest), [step])
    steps, k, known = [], 0, {i["name"] for i in inputs}
    constants = _constants(model)
    needed: dict[str, np.ndarray] = {}
    for s in segments.plan(model):
        if s.host is None:
            steps.append(Step("engine", list(s.inputs), list(s.outputs), file=f"{segments.SEGMENTS}/{k}/{MODEL}"))
            k += 1
        else:
            attributes = {a.name: _plain(helper.get_attribute_value(a)) for a in s.host.attribute}
            steps.append(Step("host", list(s.inputs), list(s.outputs), op=s.host.op_type, node=s.host.name,
                              attributes=attributes))
            needed.update({n: constants[n] for n in s.inputs if n and n not in known and n in constants})
        known |= set(steps[-1].outputs)
    return Program(inputs, outputs, example_shapes(manifest), steps, needed)


def _plain(value: Any) -> Any:
    """An ONNX attribute value as plain Python (strings are bytes in ONNX; lists stay lists)."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _shape(dims: Any) -> str:
    return "[" + ", ".join(str(d) for d in dims) + "]" if dims is not None else "unknown"


def _model_section(m: Mapping[str, Any]) -> list[str]:
    spec, export = m.get("spec") or {}, m.get("export") or {}
    plugin, backend = m.get("plugin") or {}, m.get("backend") or {}
    weights = (f"random (--random-weights, seed {spec.get('seed')})" if spec.get("random_weights")
               else spec.get("weights") or "the family's default")
    files = ", ".join(backend.get("files") or []) or "model.onnx itself"
    rows = [("family", f"{spec.get('family')} (plugin {plugin.get('name')} {plugin.get('version') or ''})".strip()),
            ("model", spec.get("model")), ("weights", weights), ("task", m.get("task") or "not declared"),
            ("exported with", f"{export.get('exporter')} exporter, ONNX opset {export.get('opset')}"),
            ("built for", f"{backend.get('name')} (files: {files})")]
    if m.get("categories"):
        rows.append(("classes", ", ".join(f"{i} `{c}`" for i, c in enumerate(m["categories"]))))
    if m.get("passes"):
        rows.append(("graph passes", ", ".join(m["passes"])))
    return ["## The model", "", "| | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in rows] + [""]


def _preprocessing_section(m: Mapping[str, Any]) -> list[str]:
    pre = m.get("preprocessing") or {}
    lines = ["## Preprocessing", "", "What each input must hold, as the model was converted and verified:", ""]
    lines += [f"- **{k}**: {v}" for k, v in pre.items()] or ["- nothing recorded: feed tensors as the inputs below state"]
    return lines + [""]


def _io_section(m: Mapping[str, Any]) -> list[str]:
    lines = ["## Inputs and outputs", "",
             "A dimension given by name varies from call to call; `detections` (or `instances`) is the number of"
             " objects found, known only after the run. Outputs are named: read them by name, never by position.", "",
             "| | name | dtype | shape | |", "|---|---|---|---|---|"]
    lines += [f"| input | `{i['name']}` | {i['dtype']} | {_shape(i['shape'])} | |" for i in m["inputs"]]
    lines += [f"| output | `{o['name']}` | {o['dtype']} | {_shape(o['shape'])} | "
              f"{'one row per detection' if o.get('per_detection') else ''} |" for o in m["outputs"]]
    return lines + [""]


def _files_section(m: Mapping[str, Any], p: Program) -> list[str]:
    lines = ["## Files", "", "- `model.onnx`: the whole computation, the file to inspect (e.g. with Netron)" +
             (" and to run with ONNX Runtime." if len(p.steps) == 1 else
              "; its `deploybridge::` host nodes are not ONNX ops, so it is run as the segments below.")]
    lines += [f"- `{s.file}`: engine segment {k}" for k, s in enumerate([s for s in p.steps if s.kind == "engine"])
              if len(p.steps) > 1]
    engine = [f for f in (m.get("backend") or {}).get("files") or [] if not f.endswith(".onnx")]
    if engine:
        lines.append(f"- {', '.join(f'`{f}`' for f in engine)}: built for {m['backend']['name']}")
    lines += _backend_usage(m)
    lines += ["- `manifest.json`: everything deploybridge recorded, with the sha256 of every file (this one included)",
              "- `report.json` (and `report.png` for detectors): the conversion's checks", ""]
    return lines


# how the backend's own files run without deploybridge; model.onnx's programs below work for every backend
BACKEND_USAGE = {
    "torchscript": "- `model.pt` runs with PyTorch alone: `m = torch.jit.load('model.pt')`, then `m(*inputs)` under"
                   " `torch.inference_mode()` with the inputs in the order of the table below; when `torchscript.json` says `\"fp16\": true`, cast float"
                   " inputs to `torch.float16` first (the module is half; seed 000's error was feeding it float32).",
    "openvino": "- `openvino.xml`/`.bin` run with OpenVINO alone: `ov.Core().compile_model('openvino.xml', 'CPU')`,"
                " fed and read by the tensor names below (set `INFERENCE_PRECISION_HINT` to `f32` for these results:"
                " CPUs with bf16 units default to bf16).",
}


def _backend_usage(m: Mapping[str, Any]) -> list[str]:
    usage = BACKEND_USAGE.get((m.get("backend") or {}).get("name"))
    return [usage] if usage else []


def _plan_section(p: Program, host_ops: Mapping[str, Any]) -> list[str]:
    if len(p.steps) == 1:
        return []
    lines = ["## Execution plan", "", "The steps in order. Every tensor is kept by name; each step reads its inputs"
             " by name and adds its outputs. Constants are tensors of model.onnx, given here with their values.", ""]
    for k, s in enumerate(p.steps, 1):
        reads = ", ".join(_tensor_ref(n, p) for n in s.inputs)
        if s.kind == "engine":
            lines.append(f"{k}. **ONNX Runtime** `{s.file}`: reads {reads}; writes {', '.join(f'`{n}`' for n in s.outputs)}.")
        else:
            attributes = ", ".join(f"`{a}` = {v!r}" for a, v in s.attributes.items()) or "none"
            lines.append(f"{k}. **host step** `{s.op}` (node `{s.node}`): reads {reads}; attributes {attributes};"
                         f" writes {', '.join(f'`{n}`' for n in s.outputs)}.")
    lines += ["", "## Host steps", ""]
    for op in dict.fromkeys(s.op for s in p.steps if s.kind == "host"):
        record = host_ops.get(op)
        semantics = getattr(record, "semantics", "") or ""
        lines += [f"### `{op}`", ""]
        if semantics:
            lines.append(semantics)
        else:
            owner = getattr(record, "owner", None) or "the plugin that made this artifact"
            lines.append(f"{getattr(record, 'description', '') or 'No description.'} Its exact semantics are not written"
                         f" down: they are the Python implementation of plugin `{owner}`.")
        lines.append("")
    return lines


def _tensor_ref(name: str, p: Program) -> str:
    if not name:
        return "(omitted input)"
    if name in p.constants:
        value = p.constants[name]
        return f"`{name}` (constant {value.dtype.name} {list(value.shape)} = {value.tolist()!r})"
    return f"`{name}`"


def _checking_section(m: Mapping[str, Any]) -> list[str]:
    verification = m.get("verification") or {}
    lines = ["## Checking your integration", "",
             f"deploybridge ran this artifact against the PyTorch model on inputs {verification.get('seeds')}:"
             f" {verification.get('summary') or 'no summary recorded'}. Your outputs equal the verified ones when,"
             " output by output, |got - reference| <= atol + rtol * |reference| (rows of per-detection outputs"
             " paired by matching, not by position):", "", "| output | atol | rtol |", "|---|---|---|"]
    lines += [f"| `{n}` | {t.get('atol'):.3g} | {t.get('rtol'):.3g} |" for n, t in (m.get("tolerances") or {}).items()]
    return lines + [""]


def render(manifest: Mapping[str, Any], model, host_ops: Mapping[str, Any]) -> str:
    m, p = manifest, program(manifest, model)
    spec = m.get("spec") or {}
    hosts = [s for s in p.steps if s.kind == "host"]
    verified = "verified" if m.get("verified") else "NOT verified (kept for debugging: see manifest.json)"
    needs = (f", plus {len(hosts)} host step(s) you implement from their description below" if hosts else "")
    lines = [f"# {spec.get('family')}/{spec.get('model')}: a deploybridge artifact", "",
             f"This folder runs without deploybridge: ONNX Runtime alone runs it, in Python or C++{needs}."
             f" deploybridge {(m.get('versions') or {}).get('deploybridge')} wrote it on {m.get('created')}; it is"
             f" {verified}.", ""]
    lines += _model_section(m) + _preprocessing_section(m) + _io_section(m) + _files_section(m, p)
    lines += ["## Run it in Python", "", "`pip install onnxruntime numpy`, then, in this folder:", "", "```python",
              python_snippet(p), "```", "",
              "## Run it in C++", "", "With ONNX Runtime's C++ API (headers and library from its release archive):",
              "", "```cpp", cpp_snippet(p), "```", ""]
    lines += _plan_section(p, host_ops) + _checking_section(m)
    return "\n".join(lines)
