"""The two programs an artifact's README.md shows: Python (onnxruntime + numpy) and C++ (ONNX Runtime's C++ API).

Both are generated from one :class:`Program` (the artifact's steps in order) and work the same way: every tensor is
kept by name in one table, each ONNX file is fed the inputs it declares, by name, and its outputs are stored by name
(never by position: seed 001's TensorRT listed outputs in another order than the ONNX); each host step is a function
the reader writes from the README's description, called with the step's inputs in node order.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Step:
    kind: str  # "engine": an ONNX file ONNX Runtime runs; "host": a function the reader implements
    inputs: list[str]
    outputs: list[str]
    file: str = ""  # engine: the ONNX file, relative to the artifact folder
    op: str = ""  # host: the op type (the function's name)
    node: str = ""
    attributes: dict = field(default_factory=dict)


@dataclass
class Program:
    inputs: list[dict]  # {"name", "dtype", "shape"} as in the manifest
    outputs: list[str]
    example_shapes: dict[str, list[int]]  # input -> a shape to call it with in the example
    steps: list[Step]
    constants: dict[str, np.ndarray] = field(default_factory=dict)  # tensors of model.onnx host steps read


def _py_array(value: np.ndarray) -> str:
    return f"np.array({value.tolist()!r}, dtype=np.{value.dtype.name})"


def python_snippet(p: Program) -> str:
    first = p.inputs[0]
    lines = ["import numpy as np", "import onnxruntime as ort", "", 'ARTIFACT = "."  # this folder', "SESSIONS = {}", ""]
    if p.constants:
        lines += ["CONSTANTS = {  # tensors of model.onnx that host steps read"]
        lines += [f"    {name!r}: {_py_array(value)}," for name, value in p.constants.items()] + ["}", ""]
    lines += ["", "def run_onnx(path, env):",
              '    """Run one ONNX file of this folder on the tensors in env, fed by input name; its outputs by name."""',
              "    if path not in SESSIONS:",
              '        SESSIONS[path] = ort.InferenceSession(f"{ARTIFACT}/{path}", providers=["CPUExecutionProvider"])',
              "    session = SESSIONS[path]",
              "    names = [o.name for o in session.get_outputs()]",
              "    return dict(zip(names, session.run(names, {i.name: env[i.name] for i in session.get_inputs()})))", ""]
    for op in dict.fromkeys(s.op for s in p.steps if s.kind == "host"):
        lines += ["", f"def {op}(inputs, attributes):",
                  f'    """Host step {op}: implement it as README.md\'s "Host steps" section states. inputs: the node\'s',
                  '    inputs in order (None for an omitted one); returns a list with one array per output."""',
                  f'    raise NotImplementedError("{op}: see README.md, Host steps")', ""]
    feeds = ", ".join(f'"{i["name"]}": {i["dtype"]} {list(p.example_shapes[i["name"]])}' for i in p.inputs)
    lines += ["", "def run(feeds):",
              f'    """feeds: {{{feeds}}}, preprocessed as README.md says -> the outputs by name."""',
              "    env = {" + ("**CONSTANTS, " if p.constants else "")
              + ", ".join(f'"{i["name"]}": np.asarray(feeds["{i["name"]}"], dtype=np.{i["dtype"]})' for i in p.inputs) + "}"]
    for k, step in enumerate(p.steps, 1):
        if step.kind == "engine":
            lines.append(f'    env.update(run_onnx("{step.file}", env))  # step {k}: ONNX Runtime')
        else:
            args = ", ".join(f'env["{n}"]' if n else "None" for n in step.inputs)
            lines.append(f"    env.update(zip({step.outputs!r}, {step.op}([{args}], {step.attributes!r})))  # step {k}: host")
    lines += [f"    return {{name: env[name] for name in {p.outputs!r}}}", "", "",
              'if __name__ == "__main__":',
              f'    outputs = run({{"{first["name"]}": np.zeros({tuple(p.example_shapes[first["name"]])}, np.{first["dtype"]})}})',
              "    for name, value in outputs.items():", "        print(name, value.dtype, value.shape)"]
    return "\n".join(lines)


ONNX_TYPES = {"float32": ("FLOAT", "float"), "float16": ("FLOAT16", "uint16_t"), "float64": ("DOUBLE", "double"),
              "int64": ("INT64", "int64_t"), "int32": ("INT32", "int32_t"), "int8": ("INT8", "int8_t"),
              "uint8": ("UINT8", "uint8_t"), "bool": ("BOOL", "uint8_t")}  # float16 and bool as their raw bytes

CPP_HEAD = """\
// Build: g++ -std=c++17 run_artifact.cpp -I<onnxruntime>/include -L<onnxruntime>/lib -lonnxruntime
#include <onnxruntime_cxx_api.h>

#include <cstdint>
#include <cstring>
#include <iostream>
#include <map>
#include <string>
#include <vector>

struct Tensor {  // one named tensor: element type, shape, raw bytes
  ONNXTensorElementDataType type;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};
using Tensors = std::map<std::string, Tensor>;

size_t element_size(ONNXTensorElementDataType type) {
  switch (type) {
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE: case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64: return 8;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT: case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32: return 4;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16: return 2;
    default: return 1;  // uint8, int8, bool
  }
}

template <typename T>
Tensor make_tensor(ONNXTensorElementDataType type, std::vector<int64_t> shape, const std::vector<T>& values) {
  Tensor t{type, std::move(shape), std::vector<uint8_t>(values.size() * sizeof(T))};
  if (!values.empty()) std::memcpy(t.bytes.data(), values.data(), t.bytes.size());
  return t;
}

// Runs one ONNX file on the tensors in `env`, fed by input name, and returns its outputs by name.
Tensors run_onnx(Ort::Env& ort_env, const std::string& path, Tensors& env) {
  Ort::SessionOptions options;
  Ort::Session session(ort_env, path.c_str(), options);  // on Windows the path is a wide string
  Ort::AllocatorWithDefaultOptions allocator;
  Ort::MemoryInfo memory = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
  std::vector<std::string> input_names, output_names;
  for (size_t i = 0; i < session.GetInputCount(); ++i)
    input_names.emplace_back(session.GetInputNameAllocated(i, allocator).get());
  for (size_t i = 0; i < session.GetOutputCount(); ++i)
    output_names.emplace_back(session.GetOutputNameAllocated(i, allocator).get());
  std::vector<const char*> input_ptrs, output_ptrs;
  std::vector<Ort::Value> inputs;
  for (const std::string& name : input_names) {
    Tensor& t = env.at(name);
    inputs.push_back(Ort::Value::CreateTensor(memory, t.bytes.data(), t.bytes.size(), t.shape.data(), t.shape.size(),
                                              t.type));
    input_ptrs.push_back(name.c_str());
  }
  for (const std::string& name : output_names) output_ptrs.push_back(name.c_str());
  std::vector<Ort::Value> outputs = session.Run(Ort::RunOptions{nullptr}, input_ptrs.data(), inputs.data(),
                                                inputs.size(), output_ptrs.data(), output_ptrs.size());
  Tensors result;
  for (size_t i = 0; i < outputs.size(); ++i) {  // outputs[i] is output_names[i]
    Ort::TensorTypeAndShapeInfo info = outputs[i].GetTensorTypeAndShapeInfo();
    const uint8_t* data = static_cast<const uint8_t*>(outputs[i].GetTensorMutableRawData());
    size_t bytes = info.GetElementCount() * element_size(info.GetElementType());
    result[output_names[i]] = Tensor{info.GetElementType(), info.GetShape(), std::vector<uint8_t>(data, data + bytes)};
  }
  return result;
}
"""


def _cpp_tensor(dtype: str, shape: Any, values: str) -> str:
    onnx_type, ctype = ONNX_TYPES.get(dtype, ("UINT8", "uint8_t"))
    dims = ", ".join(str(int(d)) for d in shape)
    return f"make_tensor(ONNX_TENSOR_ELEMENT_DATA_TYPE_{onnx_type}, {{{dims}}}, std::vector<{ctype}>{values})"


def _cpp_values(value: np.ndarray) -> str:
    flat = value.reshape(-1)
    if value.dtype in (np.float16, np.bool_):
        flat = flat.view(np.uint16 if value.dtype == np.float16 else np.uint8)
    text = ", ".join(repr(float(v)) + "f" if value.dtype == np.float32 else str(int(v) if flat.dtype.kind in "iub" else v)
                     for v in flat)
    return "{" + text + "}"


def cpp_snippet(p: Program) -> str:
    lines = [CPP_HEAD]
    hosts = {s.op: s for s in p.steps if s.kind == "host"}
    if hosts:
        lines.append("// Host steps: implement each as README.md's \"Host steps\" section states (inputs in node order,"
                     " nullptr for an omitted one).")
        lines += [f"std::vector<Tensor> {op}(const std::vector<const Tensor*>& inputs);" for op in hosts]
        lines.append("")
    lines += ["int main() {", '  Ort::Env ort_env(ORT_LOGGING_LEVEL_WARNING, "artifact");', "  Tensors env;"]
    for i in p.inputs:
        shape = p.example_shapes[i["name"]]
        count = " * ".join(str(int(d)) for d in shape) or "1"
        lines.append(f"  // {i['name']}: {i['dtype']} {list(shape)}, preprocessed as README.md says")
        lines.append(f'  env["{i["name"]}"] = {_cpp_tensor(i["dtype"], shape, f"({count})")};')
    for name, value in p.constants.items():
        lines.append(f'  env["{name}"] = {_cpp_tensor(value.dtype.name, value.shape, _cpp_values(value))};  // constant')
    for k, step in enumerate(p.steps, 1):
        if step.kind == "engine":
            lines.append(f'  for (auto& [name, t] : run_onnx(ort_env, "{step.file}", env)) env[name] = t;  // step {k}')
            continue
        args = ", ".join(f'&env.at("{n}")' if n else "nullptr" for n in step.inputs)
        attributes = ", ".join(f"{a}={v!r}" for a, v in step.attributes.items()) or "none"
        lines.append(f"  {{  // step {k}: host step {step.op}, node {step.node!r}, attributes: {attributes}")
        lines.append(f"    std::vector<Tensor> out = {step.op}({{{args}}});")
        lines += [f'    env["{o}"] = out[{j}];' for j, o in enumerate(step.outputs)] + ["  }"]
    names = ", ".join(f'"{n}"' for n in p.outputs)
    lines += [f"  for (const char* name : {{{names}}}) {{  // the outputs, by name",
              "    const Tensor& t = env.at(name);", '    std::cout << name << ": shape [";',
              '    for (int64_t d : t.shape) std::cout << " " << d;', '    std::cout << " ], " << t.bytes.size() << " bytes\\n";',
              "  }", "  return 0;", "}"]
    return "\n".join(lines)
