"""The user's own images as verification inputs (``--inputs DIR|FILE...``), fed as ``deploy run`` feeds them.

Seeded synthetic inputs are reproducible but may not look like production data; a model can be right on them and
wrong on real images (or find nothing on them at all). An image input is named by its absolute path, which stands
in for the seed everywhere a seed is used (the reference, the noise floor, the report, the manifest), so the same
verification can be run again by ``deploy verify`` while the files are there.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Iterable

from deploybridge.errors import DeployError
from deploybridge.records import LoadedModel

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
MAX_IMAGES = 100  # verification runs the reference in float32 and float64 on each one


def image_files(paths: Iterable[str | Path]) -> list[str]:
    """Absolute paths of the image files named, folders expanded (sorted, not recursive); one-line errors for a
    missing path, a folder without images, or too many."""
    found: list[str] = []
    for path in map(Path, paths):
        if path.is_dir():
            images = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
            if not images:
                raise DeployError(f"--inputs {path}: no image files ({', '.join(IMAGE_SUFFIXES)}) in this folder")
            found += [str(p.resolve()) for p in images]
        elif path.is_file():
            found.append(str(path.resolve()))
        else:
            raise DeployError(f"--inputs {path}: no such file or folder; give image files or folders of them")
    if len(found) > MAX_IMAGES:
        raise DeployError(f"--inputs names {len(found)} images; verification takes at most {MAX_IMAGES}: pick a sample")
    return list(dict.fromkeys(found))


def accepting_images(loaded: LoadedModel, preprocessing=None) -> LoadedModel:
    """``loaded`` whose ``make_inputs`` also takes an image path (a str) instead of a seed: the image is read and fed
    through the model's preprocessing (or the manifest's ``preprocessing``) at the model's input size, exactly as
    ``deploy run`` feeds it."""
    import numpy as np
    import torch

    from deploybridge.runtime.image_io import load_rgb, to_input

    make_seeded = loaded.make_inputs
    pre = dict(preprocessing if preprocessing is not None else loaded.preprocessing)
    size: list = []

    def make_inputs(key):
        if not isinstance(key, (str, tuple)):
            return make_seeded(key)
        if len(loaded.input_names) != 1:
            raise DeployError(f"--inputs feeds one image tensor; this model takes {len(loaded.input_names)} inputs")
        if not size:
            size.append(tuple(make_seeded(0)[0].shape))
        paths = key if isinstance(key, tuple) else (key,)  # a tuple: one batch of images (int8 calibration)
        if len(paths) != size[0][0]:
            raise DeployError(f"--inputs feeds one image per input; this model's input is {size[0]}: use --input-shape 1,...")
        one = (1, *size[0][1:])
        return (torch.from_numpy(np.concatenate([to_input(load_rgb(Path(p)), one, pre)[0] for p in paths])),)

    return replace(loaded, make_inputs=make_inputs)
