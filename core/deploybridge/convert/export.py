"""torch.onnx.export with the exporter chosen explicitly and its warnings kept.

torch 2.14 defaults to the dynamo exporter, which still fails on torchvision
and Detectron2 detectors; families say which exporter they need and why, and
the choice is recorded in the manifest.
"""
from __future__ import annotations

import io
import os
import sys
import time
import warnings
from contextlib import redirect_stderr
from dataclasses import dataclass, field
from pathlib import Path

from deploybridge.errors import DeployError, first_line
from deploybridge.records import LoadedModel

EXPORTERS = ("legacy", "dynamo")


@dataclass
class ExportInfo:
    exporter: str
    opset: int
    seconds: float
    warnings: list[dict] = field(default_factory=list)
    triage: list[dict] = field(default_factory=list)  # the warnings with a verdict each (deploybridge.convert.warning_triage)


def _norm(path: str) -> str:
    return os.path.normcase(os.path.abspath(path))


def loaded_module_files() -> dict[str, str]:
    """File -> dotted name of every imported module (the code that warned has been imported)."""
    files = {}
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if isinstance(file, str) and name != "__main__":
            files[_norm(file)] = name
    return files


def module_of(filename: str, files: dict[str, str], roots: list[str]) -> str:
    """The dotted module path of ``filename`` ("" when it is not a module file): a known warning is tied to
    ``torchvision.models.detection._utils``, not to every ``_utils.py``. ``files`` comes from loaded_module_files();
    ``roots`` (sys.path) places a file no loaded module claims, by the longest entry it lies under."""
    path = _norm(filename)
    if path in files:
        return files[path]
    under = [r for r in map(_norm, roots) if path.startswith(r.rstrip(os.sep) + os.sep)]
    if not under or not path.endswith(".py"):
        return ""
    parts = os.path.relpath(path[:-3], max(under, key=len)).split(os.sep)
    parts = parts[:-1] if parts[-1] == "__init__" else parts
    return ".".join(parts) if all(p.isidentifier() for p in parts) else ""


def _collapsed(caught: list) -> list[dict]:
    """The captured warnings, each (category, message) once with its count and where it came from."""
    files, roots = loaded_module_files(), [p for p in sys.path if p]
    seen: dict[tuple[str, str], dict] = {}
    for w in caught:
        key = (w.category.__name__, str(w.message).strip())
        if key in seen:
            seen[key]["count"] += 1
        else:
            seen[key] = {"category": key[0], "message": key[1][:500], "source": f"{Path(w.filename).name}:{w.lineno}",
                         "module": module_of(w.filename, files, roots), "count": 1}
    return list(seen.values())


def _dynamic_shapes(loaded: LoadedModel):
    """The family's dynamic input axes as the dynamo exporter's dynamic_shapes (one entry per positional input)."""
    if not loaded.dynamic_axes:
        return None
    from torch.export import Dim

    return tuple({int(d): Dim.DYNAMIC for d in (loaded.dynamic_axes.get(name) or {})} for name in loaded.input_names)


def check_opset(exporter: str, opset: int) -> None:
    """Refuse an opset the exporter cannot write, before exporting: the legacy exporter prints its whole TorchScript
    graph, hundreds of lines, before failing on one (``--opset 3``)."""
    from torch.onnx import _constants

    top = _constants.ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET if exporter == "legacy" else _constants.ONNX_MAX_OPSET
    if not _constants.ONNX_MIN_OPSET <= opset <= top:
        raise DeployError(f"the {exporter} exporter writes opsets {_constants.ONNX_MIN_OPSET} to {top}, not {opset};"
                          f" choose an --opset in that range (default 17)")


def export_onnx(loaded: LoadedModel, inputs: tuple, path: Path, exporter: str, opset: int,
                translation_table: dict | None = None) -> ExportInfo:
    import torch

    known = (*EXPORTERS, *loaded.extra_exporters)
    if exporter not in known:
        raise DeployError(f"unknown exporter '{exporter}'; choose one of: {', '.join(known)}")
    kwargs = dict(
        input_names=list(loaded.input_names),
        output_names=loaded.output_names,
        opset_version=opset,
    )
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught, redirect_stderr(io.StringIO()):
        warnings.simplefilter("always")
        try:
            with torch.no_grad():
                if exporter in loaded.extra_exporters:
                    loaded.extra_exporters[exporter](inputs, path, opset)
                elif exporter == "legacy":
                    torch.onnx.export(
                        loaded.module, inputs, str(path), dynamo=False,
                        dynamic_axes=dict(loaded.dynamic_axes or {}), do_constant_folding=True, **kwargs,
                    )
                else:
                    torch.onnx.export(loaded.module, inputs, str(path), dynamo=True, external_data=False,
                                      custom_translation_table=translation_table or None,
                                      dynamic_shapes=_dynamic_shapes(loaded), **kwargs)
        except DeployError:
            raise
        except Exception as exc:
            other = "dynamo" if exporter == "legacy" else "legacy"  # for a family's own exporter: the built-in one
            raise DeployError(f"{exporter} exporter failed at opset {opset}: {first_line(exc, 300)}; try --exporter {other} or another --opset") from exc
    return ExportInfo(exporter, opset, time.perf_counter() - start, _collapsed(caught))
