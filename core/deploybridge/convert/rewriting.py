"""Scoped op rewrites: in force only while exporting, everything restored afterwards.

Four kinds (see :class:`deploybridge.records.Rewrite`): ``function`` and
``module`` patch Python attributes, ``symbolic`` registers a legacy-exporter
symbolic at the export opset, ``dynamo`` adds an entry to the dynamo exporter's
translation table. A rewrite whose target cannot be resolved fails the
conversion naming the rewrite and the target; it is never a silent no-op.
Patches are undone in reverse order on exit, also when the export raises.

A dunder a class inherits from a C base (``Tensor.__getitem__``) is patched on
the class, and the class's C slot tables are put back byte for byte afterwards
(``_slots_kept``): removing the patch alone leaves CPython's generic sequence
slot behind. (A TorchFunctionMode would leave the class alone, but every op of
the export would then run from its frame, and export warnings would no longer
name the module that printed them.)
"""
from __future__ import annotations

import functools
import importlib
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

from deploybridge.errors import DeployError, first_line
from deploybridge.records import REWRITE_KINDS, Rewrite


@dataclass
class Applied:
    """What a conversion had in force: names in order, how often each stand-in was called
    (None where the exporter calls it out of our sight), and the dynamo translation table."""

    rewrites: list[Rewrite] = field(default_factory=list)
    calls: dict[str, int | None] = field(default_factory=dict)
    translation_table: dict[Any, Any] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.rewrites]

    @property
    def fired(self) -> list[str]:
        """Names of the rewrites that changed something: called at least once, or not countable."""
        return [r.name for r in self.rewrites if self.calls.get(r.name) != 0]

    def to_json(self) -> list[dict]:
        return [{"name": r.name, "owner": r.owner, "kind": r.kind, "target": r.target, "calls": self.calls.get(r.name)}
                for r in self.rewrites]


def resolve_target(dotted: str) -> tuple[Any, str]:
    """Return (owner object, attribute name) for ``pkg.module.Class.attr``.

    ``torch.ops.NS.op`` imports package ``NS`` first when it exists, since
    importing it is what registers its ops (``torch.ops.torchvision.roi_align``).
    """
    parts = dotted.split(".")
    if parts[:2] == ["torch", "ops"] and len(parts) > 3 and parts[2] not in ("aten", "prim", "onnx"):
        try:
            importlib.import_module(parts[2])
        except ImportError:
            pass
    for split in range(len(parts) - 1, 0, -1):
        try:
            owner: Any = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for attr in parts[split:-1]:
            owner = getattr(owner, attr)
        if not hasattr(owner, parts[-1]):
            raise AttributeError(f"{type(owner).__name__} {'.'.join(parts[:-1])} has no attribute '{parts[-1]}'")
        return owner, parts[-1]
    raise ImportError(f"no importable module in '{dotted}'")


def select(rewrites: dict[str, Rewrite], exporter: str, opset: int, disabled: Sequence[str] = (),
           backend: str | None = None, family: str | None = None) -> list[Rewrite]:
    unknown = [n for n in disabled if n not in rewrites]
    if unknown:
        raise DeployError(f"--no-rewrite names unknown rewrite(s) {', '.join(unknown)}; `deploy rewrites` lists them")
    return [r for r in rewrites.values()
            if r.applies(exporter, opset) and r.name not in disabled
            and (not r.backends or backend is None or backend in r.backends)
            and (not r.families or family is None or family in r.families)]


def _unresolved(rw: Rewrite, exc: BaseException) -> DeployError:
    return DeployError(f"rewrite '{rw.name}' (plugin '{rw.owner}'): target '{rw.target}' cannot be resolved ({first_line(exc)});"
                       f" fix the target or disable the rewrite with --no-rewrite {rw.name}")


def _counted(fn: Callable, counter: dict[str, int | None], name: str) -> Callable:
    @functools.wraps(fn)
    def stand_in(*args, **kwargs):
        counter[name] = (counter[name] or 0) + 1
        return fn(*args, **kwargs)

    return stand_in


@contextmanager
def _patched(owner: Any, attr: str, value: Any) -> Iterator[Any]:
    """Set ``owner.attr = value``; on exit put back the original, or delete the patch if the attribute was inherited."""
    own = vars(owner) if hasattr(owner, "__dict__") else {}
    had_own = attr in own
    original = own[attr] if had_own else getattr(owner, attr)
    setattr(owner, attr, value)
    try:
        yield original
    finally:
        if had_own:
            setattr(owner, attr, original)
        else:  # inherited: remove the patch instead of pinning the parent's value
            delattr(owner, attr)


def _slot_tables(cls: type) -> dict[str, tuple[int, int]]:
    """(address, size) of ``cls``'s number, sequence and mapping method tables, where this is a CPython 3.11-3.13
    heap type laid out as expected (its name and basic size read back at their offsets); empty otherwise."""
    import ctypes
    import sys

    if sys.implementation.name != "cpython" or not (3, 11) <= sys.version_info[:2] <= (3, 13):
        return {}
    word = ctypes.sizeof(ctypes.c_void_p)
    base = id(cls)
    name = ctypes.c_char_p.from_address(base + 3 * word).value or b""
    if name.split(b".")[-1] != cls.__name__.encode() or ctypes.c_ssize_t.from_address(base + 4 * word).value != cls.__basicsize__:
        return {}
    # tp_as_number, tp_as_sequence, tp_as_mapping: words 12, 13, 14; tables of 36, 10 and 3 function pointers
    tables = {table: (ctypes.c_void_p.from_address(base + index * word).value, count * word)
              for table, index, count in (("number", 12, 36), ("sequence", 13, 10), ("mapping", 14, 3))}
    return {table: (address, size) for table, (address, size) in tables.items() if address}


@contextmanager
def _slots_kept(owner: Any, attr: str) -> Iterator[Callable[[], None]]:
    """Put ``owner``'s C slot tables back as they were after a dunder it inherits was patched and removed: CPython
    leaves a generic slot behind (Tensor.__getitem__ -> sq_item), after which every tensor passes PySequence_Check
    and ``torch.tensor([torch.tensor(-1)])`` fails with "len() of a 0-d tensor" for the rest of the process (MMDeploy's
    exports after any legacy one did). Yields a function that puts the sequence table back while the patch is in
    force too: the legacy exporter itself calls ``torch.tensor([0-d tensor])`` (slicing a shape, fastreid's AGW and
    SBS, torchvision's SSD), and indexing still reaches the patch through the mapping slot."""
    import ctypes

    inherited_dunder = isinstance(owner, type) and attr.startswith("__") and attr not in vars(owner)
    tables = _slot_tables(owner) if inherited_dunder else {}
    saved = {table: (address, ctypes.string_at(address, size)) for table, (address, size) in tables.items()}

    def keep_sequence() -> None:
        if "sequence" in saved:
            address, data = saved["sequence"]
            ctypes.memmove(address, data, len(data))

    try:
        yield keep_sequence
    finally:
        for address, data in saved.values():
            ctypes.memmove(address, data, len(data))


def _python_patch(rw: Rewrite, applied: Applied, stack: ExitStack) -> None:
    try:
        owner, attr = resolve_target(rw.target)
        if rw.kind == "module":
            owner, attr = getattr(owner, attr), "forward"
            if not (isinstance(owner, type) and hasattr(owner, "forward")):
                raise AttributeError(f"{rw.target} is not a module class")
        current = getattr(owner, attr)
    except (ImportError, AttributeError) as exc:
        raise _unresolved(rw, exc) from None
    replacement = rw.replacement(current) if rw.wrap else rw.replacement
    if not callable(replacement):  # a module-level value (a registry, a table): swapped in, nothing to count
        applied.calls[rw.name] = None
        stack.enter_context(_patched(owner, attr, replacement))
        return
    applied.calls[rw.name] = 0
    keep_sequence = stack.enter_context(_slots_kept(owner, attr))  # entered first: restored after the patch is removed
    stack.enter_context(_patched(owner, attr, _counted(replacement, applied.calls, rw.name)))
    keep_sequence()  # tensors stay non-sequences while patched (x[i] still reaches the patch: mp_subscript)


@contextmanager
def _custom_symbolic(rw: Rewrite, opset: int, applied: Applied) -> Iterator[None]:
    import torch.onnx
    from torch.onnx._internal.torchscript_exporter import registration

    if "::" not in rw.target:
        raise _unresolved(rw, ValueError("a symbolic rewrite's target is 'domain::op', e.g. 'aten::triu'"))
    group = registration.registry.get_function_group(rw.target)
    # a user's own custom symbolic at this opset is put back afterwards
    previous = group._functions._overrides.get(opset) if group is not None else None
    applied.calls[rw.name] = 0
    torch.onnx.register_custom_op_symbolic(rw.target, _counted(rw.replacement, applied.calls, rw.name), opset)
    try:
        yield
    finally:
        torch.onnx.unregister_custom_op_symbolic(rw.target, opset)
        if previous is not None:
            torch.onnx.register_custom_op_symbolic(rw.target, previous, opset)


def _translation(rw: Rewrite, applied: Applied) -> None:
    try:
        owner, attr = resolve_target(rw.target)
        overload = getattr(owner, attr)
    except (ImportError, AttributeError) as exc:
        raise _unresolved(rw, exc) from None
    applied.translation_table[overload] = rw.replacement
    applied.calls[rw.name] = None  # onnxscript traces it inside the exporter


@contextmanager
def applied(rewrites: Sequence[Rewrite], opset: int = 17) -> Iterator[Applied]:
    """Put ``rewrites`` in force in order; yield what was applied; undo everything in reverse order on exit."""
    result = Applied()
    with ExitStack() as stack:
        for rw in rewrites:
            if rw.kind not in REWRITE_KINDS:
                raise DeployError(f"rewrite '{rw.name}' (plugin '{rw.owner}') has kind '{rw.kind}', which this host"
                                  f" cannot apply (kinds: {', '.join(REWRITE_KINDS)})")
            if rw.kind in ("function", "module"):
                _python_patch(rw, result, stack)
            elif rw.kind == "symbolic":
                stack.enter_context(_custom_symbolic(rw, opset, result))
            else:
                _translation(rw, result)
            result.rewrites.append(rw)
        yield result
