"""One int8 conversion of the embedded shapes RetinaNet with --eval shapes, shared by test_quantize.py and
test_precision_search.py (cached: pytest runs both files in one process, the conversion takes most of their time)."""
from __future__ import annotations

import functools
import tempfile
from pathlib import Path


@functools.cache
def converted():
    from deploybridge.convert.pipeline import ConvertOptions, convert
    from deploybridge.plugins import Host
    from deploybridge.records import ModelSpec

    out = Path(tempfile.mkdtemp(prefix="db-int8-")) / "art"
    spec = ModelSpec(family="", model="shapes_retinanet")
    opts = ConvertOptions(out=out, precision="int8", eval_dataset="shapes", backend_options={"threads": 2})
    return convert(Host(only=["torchvision"]), spec, opts, plugin="torchvision")
