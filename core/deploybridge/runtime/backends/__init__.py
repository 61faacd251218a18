"""Built-in backends."""
from __future__ import annotations

from typing import Mapping


def cast_inputs(inputs: Mapping, dtypes: Mapping) -> dict:
    """Each input cast to the dtype its engine takes (``dtypes`` by input name; a name without one is left as is):
    a float16 engine fed float32 must run, not fail (seed 000)."""
    return {k: (v.astype(dtypes[k]) if dtypes.get(k) is not None and v.dtype != dtypes[k] else v) for k, v in inputs.items()}
