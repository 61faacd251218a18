"""The matrix's rows (models), cells (a model for one backend at one precision) and what became of each cell."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Sequence

STATUSES = ("green", "red", "inconclusive", "skipped")
PRECISION_FLAGS = {"fp32": (), "fp16": ("--fp16",), "int8": ("--int8",)}


@dataclass(frozen=True)
class Entry:
    """A model row: the `deploy convert` arguments that choose and load it (no --backend, precision or --out)."""

    name: str  # "family/model", the row's label
    family: str
    convert_args: tuple[str, ...]
    requires: tuple[str, ...] = ()  # import names the family needs (skipped, with the install hint, without them)
    eval: str | None = None  # dataset for ΔAP / ΔmIoU ("shapes"), when the model was trained on one


@dataclass(frozen=True)
class Cell:
    entry: Entry
    backend: str
    precision: str

    @property
    def id(self) -> str:
        return f"{self.entry.name}/{self.backend}-{self.precision}"

    @property
    def folder(self) -> str:
        return cell_folder(self.id)

    def convert_args(self) -> list[str]:
        flags = list(PRECISION_FLAGS[self.precision])
        return [*self.entry.convert_args, "--backend", self.backend, *flags,
                *(["--eval", self.entry.eval] if self.entry.eval else [])]

    def to_json(self) -> dict:
        return {"id": self.id, "folder": self.folder, "model": self.entry.name, "family": self.entry.family,
                "backend": self.backend, "precision": self.precision, "convert_args": self.convert_args()}


@dataclass
class CellResult:
    id: str
    model: str
    backend: str
    precision: str
    status: str  # one of STATUSES
    reason: str = ""  # red / inconclusive / skipped: the one line that says why
    parity: str = ""  # the verification summary
    evaluation: dict = field(default_factory=dict)  # metric -> delta (ΔAP, ΔmIoU) when the row has a dataset
    ap: dict = field(default_factory=dict)  # "runner:metric" -> AP, from --eval's merged shards
    ms: float | None = None  # median latency on its own backend (deploy bench)
    speedup: float | None = None  # over PyTorch eager, measured in the same run
    seconds: float = 0.0  # the cell's wall time
    key: str = ""  # cache key (matrix.cache)
    cached: bool = False

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "CellResult":
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def cell_folder(cell_id: str) -> str:
    """Where a cell's artifact goes, relative to the matrix's output folder."""
    return cell_id.replace("/", "__")


def skipped(cell: Cell, reason: str) -> CellResult:
    return CellResult(cell.id, cell.entry.name, cell.backend, cell.precision, "skipped", reason)


def failed(cell: dict, reason: str, seconds: float = 0.0) -> CellResult:
    """A red cell from its json form (what an executor holds when its worker died)."""
    return CellResult(cell["id"], cell["model"], cell["backend"], cell["precision"], "red", reason, seconds=seconds)


def counts(results: Sequence[CellResult]) -> dict[str, int]:
    return {s: sum(r.status == s for r in results) for s in STATUSES}
