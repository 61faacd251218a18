"""The synthetic re-id set: identities are shape x colour x texture combinations, seen under augmentation.

An identity (kind, colour, texture) keeps its look across images; every image redraws it at another scale, angle,
position, stretch and brightness, on another background, sometimes partly occluded, the way one person looks
different from camera to camera. Identities are split once: training identities are never queried. Query and gallery
images of a test identity come from different "cameras" (different augmentation draws), so rank-1 and mAP measure
whether an embedder learned the identity, not the picture. Deterministic by seed; nothing is committed.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

KINDS = ("circle", "square", "triangle", "cross")
COLOURS = ((220, 40, 40), (40, 170, 60), (40, 80, 220), (230, 200, 40), (200, 60, 200), (40, 200, 210),
           (240, 130, 30), (130, 130, 130))
TEXTURES = ("plain", "stripes", "dots", "checks")
SIZE = (128, 64)  # H, W: a person crop's aspect ratio
SPLIT_SEED = 20261204
TRAIN_IDENTITIES = 64  # of len(KINDS) * len(COLOURS) * len(TEXTURES) = 128; the other 64 are queried


@dataclass(frozen=True)
class Identity:
    kind: int
    colour: int
    texture: int

    @property
    def name(self) -> str:
        return f"{KINDS[self.kind]}-{self.colour}-{TEXTURES[self.texture]}"


def identities() -> list[Identity]:
    return [Identity(k, c, t) for k in range(len(KINDS)) for c in range(len(COLOURS)) for t in range(len(TEXTURES))]


def split() -> tuple[list[int], list[int]]:
    """(training identity ids, test identity ids): a fixed random half each."""
    order = np.random.default_rng(SPLIT_SEED).permutation(len(identities()))
    return sorted(order[:TRAIN_IDENTITIES].tolist()), sorted(order[TRAIN_IDENTITIES:].tolist())


def _outline(kind: str, cx: float, cy: float, rx: float, ry: float, angle: float) -> list[tuple[float, float]]:
    if kind == "circle":
        t = np.linspace(0, 2 * np.pi, 40, endpoint=False)
        pts = np.stack([np.cos(t), np.sin(t)], 1)
    elif kind == "square":
        pts = np.array([(-1, -1), (1, -1), (1, 1), (-1, 1)], float) * 0.8
    elif kind == "triangle":
        pts = np.array([(0, -1), (0.95, 0.8), (-0.95, 0.8)], float)
    else:
        a, b = 1.0, 0.35
        pts = np.array([(-b, -a), (b, -a), (b, -b), (a, -b), (a, b), (b, b), (b, a), (-b, a), (-b, b), (-a, b),
                        (-a, -b), (-b, -b)], float)
    c, s = np.cos(angle), np.sin(angle)
    rot = pts @ np.array([[c, s], [-s, c]])
    return [(cx + x * rx, cy + y * ry) for x, y in rot]


def _texture(name: str, h: int, w: int, period: float, phase: float) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    if name == "stripes":
        return ((y + phase) // (period / 2)) % 2 == 0
    if name == "dots":
        return ((x + phase) % period - period / 2) ** 2 + ((y + phase) % period - period / 2) ** 2 < (period / 4) ** 2
    if name == "checks":
        return (((x + phase) // (period / 2)) + ((y + phase) // (period / 2))) % 2 == 0
    return np.zeros((h, w), bool)


def draw(identity: Identity, rng: np.random.Generator, size: tuple[int, int] = SIZE) -> np.ndarray:
    """One augmented image of ``identity``: uint8 HxWx3 RGB."""
    from PIL import Image, ImageDraw

    h, w = size
    base = rng.uniform(30, 225, 3)
    background = base + np.linspace(-30, 30, h)[:, None, None] * rng.uniform(-1, 1, 3) + rng.normal(0, 12, (h, w, 3))
    r = rng.uniform(0.30, 0.45) * w
    rx, ry = r, r * rng.uniform(1.0, 1.6)
    cx, cy = w / 2 + rng.uniform(-0.12, 0.12) * w, h / 2 + rng.uniform(-0.12, 0.12) * h
    mask_img = Image.new("L", (w, h), 0)
    ImageDraw.Draw(mask_img).polygon(_outline(KINDS[identity.kind], cx, cy, rx, ry, rng.uniform(-0.45, 0.45)), fill=255)
    mask = np.asarray(mask_img) > 127
    colour = np.array(COLOURS[identity.colour], np.float32)
    pattern = _texture(TEXTURES[identity.texture], h, w, rng.uniform(9, 13), rng.uniform(0, 12))
    fill = np.where(pattern[..., None], colour * 0.35 + 255 * 0.65 * (colour.mean() < 128), colour)
    pixels = np.where(mask[..., None], fill, background)
    pixels = pixels * rng.uniform(0.75, 1.2) + rng.uniform(-18, 18, 3)  # camera exposure and white balance
    if rng.random() < 0.3:  # an occluder across part of the object
        top = int(rng.uniform(0.1, 0.8) * h)
        pixels[top:top + int(rng.uniform(0.08, 0.2) * h)] = rng.uniform(0, 255, 3)
    pixels += rng.normal(0, 6, pixels.shape)
    return np.clip(pixels, 0, 255).astype(np.uint8)


def images_of(ids: list[int], per_identity: int, seed: int, size: tuple[int, int] = SIZE) -> tuple[np.ndarray, np.ndarray]:
    """(N x H x W x 3 uint8 images, N identity ids): ``per_identity`` draws of each id in ``ids``."""
    rng = np.random.default_rng(seed)
    people = identities()
    images = [draw(people[i], rng, size) for i in ids for _ in range(per_identity)]
    return np.stack(images), np.repeat(np.asarray(ids), per_identity)


QUERY_SEED, GALLERY_SEED = 1, 2  # two "cameras"


def query_gallery(size: tuple[int, int] = SIZE, queries: int = 2, gallery: int = 4):
    """The evaluation split over the test identities: (query images, query ids, gallery images, gallery ids)."""
    _, test = split()
    q, qid = images_of(test, queries, QUERY_SEED, size)
    g, gid = images_of(test, gallery, GALLERY_SEED, size)
    return q, qid, g, gid


def pairs_batch(seed: int, batch: int, size: tuple[int, int]) -> np.ndarray:
    """A verification batch (N x 3 x H x W float32, 0-255): rows 2k and 2k+1 are one test identity seen twice, so
    the batch splits into queries (even rows) and a gallery (odd rows) that each query has a true match in."""
    _, test = split()
    rng = np.random.default_rng(seed)
    people = identities()
    chosen = rng.choice(test, size=(batch + 1) // 2, replace=False)
    images = [draw(people[i], rng, size) for i in chosen for _ in range(2)][:batch]
    return np.stack(images).transpose(0, 3, 1, 2).astype(np.float32)


def write(folder, size: tuple[int, int] = SIZE, train_views: int = 4) -> dict[str, int]:
    """The set as PNG files, ``NNN_K.png`` (identity NNN, view K) under train/, query/ and gallery/ (train/ is what
    int8 calibration should see: identities the evaluation never queries); returns the image count per folder."""
    from pathlib import Path

    from PIL import Image

    train, _ = split()
    q, qid, g, gid = query_gallery(size)
    t, tid = images_of(train, train_views, seed=3, size=size)
    counts = {}
    for name, images, ids in (("train", t, tid), ("query", q, qid), ("gallery", g, gid)):
        out = Path(folder) / name
        out.mkdir(parents=True, exist_ok=True)
        seen: dict[int, int] = {}
        for image, ident in zip(images, ids):
            k = seen[int(ident)] = seen.get(int(ident), -1) + 1
            Image.fromarray(image).save(out / f"{int(ident):03d}_{k}.png")
        counts[name] = len(images)
    return counts
