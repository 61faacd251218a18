"""OpenVINO's refusals as one line: which node, why, and what to do.

OpenVINO reports a refused ONNX graph in a multi-line log (``Exception from src/...`` frames, a per-op section, a
summary). The user needs three things from it: the node (op type and name), the reason, and a way forward."""
from __future__ import annotations

import re
from pathlib import Path

from deploybridge.errors import DeployError

# "While validating ONNX node '<Node(Loop): res_append.7>': ..." (OpenVINO names a node by its first output)
_NODE = re.compile(r"ONNX node '<Node\((?P<op>[^)]*)\): (?P<name>[^>]*)>'")
# "No conversion rule found for operations: Foo, Bar" (the frontend has no converter for an op at all)
_NO_RULE = re.compile(r"No conversion rule found for operations: (?P<ops>[^\n]+)")
# OpenVINO's frame and summary lines: not the reason
_NOISE = re.compile(r"^(Exception from |Check '|FrontEnd API failed|Model wasn't fully converted|Failed operations"
                    r"|Summary:|-- Conversion is failed for|-- .* with a message:$|While validating ONNX node"
                    r"|Traceback|RuntimeError$)")

# what to do, by the refused op type; the default names the portable way forward
_ADVICE = {
    "Loop": "OpenVINO cannot infer a loop whose carried tensor grows (torchvision's paste-masks loop); convert with"
            " --backend onnxruntime, or with a rewrite that replaces the loop by a vectorised form (paste_masks does"
            " for torchvision's; see `deploy rewrites`)",
}
DEFAULT_ADVICE = ("convert with --backend onnxruntime, or add a rewrite or graph pass that replaces the op"
                  " (docs/backends.md, OpenVINO)")


def _reason(text: str) -> str:
    """The first line of the log that says what went wrong rather than where."""
    for line in (raw.strip() for raw in text.splitlines()):
        if line and not _NOISE.match(line):
            return line.rstrip(":")
    return text.strip().splitlines()[0] if text.strip() else "no message"


def _unranked_inputs(path: Path) -> list[str]:
    """Inputs of an ONNX file declared without a rank: segments cut before ranks were declared (runtime/segments.py)."""
    if path.suffix != ".onnx" or not path.is_file():
        return []
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return [i.name for i in model.graph.input if not i.type.tensor_type.HasField("shape")]


def refusal(exc: Exception, path: Path, stage: str, version: str | None) -> DeployError:
    """One line: OpenVINO <version> refuses <op> node '<name>' in <file> (<stage>): <reason>; <what to do>."""
    text = str(exc)
    parts = Path(path).parts  # the file within the artifact: model.onnx, or segments/<k>/model.onnx
    where = "/".join(parts[-3:]) if len(parts) >= 3 and parts[-3] == "segments" else Path(path).name
    head = f"OpenVINO {version or ''} refuses".replace("  ", " ")
    no_rule = _NO_RULE.search(text)
    if no_rule:
        ops = no_rule.group("ops").strip()
        return DeployError(f"{head} {where}: it has no converter for {ops}; {DEFAULT_ADVICE}")
    node = _NODE.search(text)
    reason = _reason(text)
    unranked = _unranked_inputs(Path(path))
    if unranked and "rank" in reason:
        fix = ("its engine segments were cut by an older deploybridge: re-run `deploy convert` to re-cut them"
               if "segments" in Path(path).parts else "declare the input's rank in the ONNX graph")
        return DeployError(f"{head} {where}: input {unranked[0]} has no declared rank ({reason}); {fix}")
    if node:
        op, name = node.group("op"), node.group("name")
        advice = _ADVICE.get(op, DEFAULT_ADVICE)
        return DeployError(f"{head} the {op} node (output '{name}') in {where} ({stage}): {reason}; {advice}")
    return DeployError(f"{head} {where} ({stage}): {reason}; {DEFAULT_ADVICE}")
