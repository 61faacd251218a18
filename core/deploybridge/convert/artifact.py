"""The artifact folder: staged in a private sibling folder and published in one step at the end.

* A failed run leaves nothing, and an existing artifact is only replaced with --force.
* A conversion that failed verification is published too, for debugging, marked unverified in its manifest; it never
  replaces a verified artifact, not even with --force: it goes beside it, to OUT.unverified (replacing an older one).
* The published folder and everything in it get the modes the user's umask gives (mkdtemp's staging folder is 0700).
* With --force the new folder and the old one are exchanged by one renameat2(RENAME_EXCHANGE): --out always holds
  the old or the new artifact, never neither, and a crash never leaves the old one moved aside.
* Two conversions racing to one --out: the final step runs under an flock on the parent folder and publishes only
  if --out is still what this run saw when it started; the loser exits 2 and leaves nothing behind.
"""
from __future__ import annotations

import ctypes
import errno
import fcntl
import json
import os
import platform
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from deploybridge.convert import checksums
from deploybridge.convert.manifest import FORMAT, OLD_FORMATS, is_verified
from deploybridge.errors import DeployError, first_line

MANIFEST = "manifest.json"
REPORT = "report.json"
MODEL = "model.onnx"
UNVERIFIED = ".unverified"  # OUT + this: where an unverified result goes when OUT holds a verified artifact
MANIFEST_TMP = f".{MANIFEST}.tmp"  # update_manifest's staging file
NOT_LISTED = (MANIFEST, MANIFEST_TMP)  # the manifest cannot list its own checksum

RENAME_NOREPLACE, RENAME_EXCHANGE = 1, 2
SYS_RENAMEAT2 = {"x86_64": 316, "aarch64": 276}  # for a libc without the wrapper (glibc < 2.28)
NO_RENAMEAT2 = (errno.ENOSYS, errno.EINVAL)  # no syscall (kernel, libc, OS), or a filesystem without the flag


def check_destination(out: Path, force: bool) -> None:
    """Fail fast, before any heavy work, if ``out`` cannot receive an artifact."""
    out = Path(out)
    if out.exists() and not force:
        raise DeployError(f"{out} already exists; pass --force to replace it or choose another --out")
    if out.exists() and not out.is_dir():
        raise DeployError(f"{out} exists and is not a folder; choose another --out")
    ancestor = out.resolve().parent
    while not ancestor.exists():  # missing parents are created, like mkdir -p
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise DeployError(f"{ancestor} is not a folder, so {out} cannot be created; choose another --out")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise DeployError(f"cannot write into {ancestor}; choose a writable --out")


def _location(out: Path) -> tuple[Path, str]:
    """(real parent folder, name): ``out`` itself is not resolved, so a symlink named ``out`` is what gets replaced."""
    absolute = Path(os.path.abspath(out))
    return absolute.parent.resolve(), absolute.name


class staged:
    """``with staged(out, force) as tmp``: a private temporary folder; on success it is published (``.published``
    says where: ``out``, or ``out.unverified`` for an unverified result beside a verified artifact), on any error
    removed."""

    def __init__(self, out: Path, force: bool) -> None:
        self.out, self.force = Path(out), force
        self.published: Path | None = None

    def __enter__(self) -> Path:
        check_destination(self.out, self.force)
        self.parent, self.name = _location(self.out)
        try:
            self.parent.mkdir(parents=True, exist_ok=True)
            self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.name}.partial-", dir=self.parent))
        except OSError as exc:
            raise DeployError(f"cannot create {self.out} ({exc.strerror}); choose a writable --out") from None
        # the folder --force may replace; anything else found at --out at the end was written by a rival
        self.seen = _identity(self.parent / self.name) if self.force else None
        return self.tmp

    def __exit__(self, kind: Any, *exc: Any) -> None:
        if kind is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return
        try:
            open_up(self.tmp, current_umask())
            name, old = _publish(self.tmp, self.parent, self.name, self.seen, self.out)
        except BaseException:
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise
        self.published = self.out.parent / name
        if old is not None:
            _remove(old)


def _verified(folder: Path) -> bool | None:
    """What the manifest in ``folder`` says (see manifest.is_verified); None where there is no readable manifest."""
    try:
        return is_verified(json.loads((folder / MANIFEST).read_text()))
    except (OSError, ValueError, AttributeError):
        return None


def _identity(path: Path | str, dirfd: int | None = None) -> tuple[int, int] | None:
    """(st_dev, st_ino) of ``path`` (relative to the folder ``dirfd`` if given), None if nothing is there."""
    try:
        st = os.stat(path, dir_fd=dirfd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


def _publish(tmp: Path, parent: Path, name: str, seen: tuple[int, int] | None, out: Path) -> tuple[str, Path | None]:
    """Move ``tmp`` to ``parent/name`` under the parent's lock, or to ``name.unverified`` if ``tmp`` is marked unverified
    and ``name`` holds a verified artifact; return (the name written, where the replaced folder now is, if any)."""
    raced = DeployError(f"another conversion wrote {out} while this one ran; this run's result was discarded"
                        " (re-run with --force to replace it, or choose another --out)")
    try:
        with _locked(parent) as dirfd:
            now = _identity(name, dirfd)
            if now is not None and now != seen:
                raise raced
            if now is not None and _verified(tmp) is False and _verified(parent / name):
                name += UNVERIFIED
                if _identity(name, dirfd) is not None and not (parent / name / MANIFEST).is_file():
                    raise DeployError(f"{out} failed verification, and {parent / name}, where an unverified result goes"
                                      " beside a verified artifact, is not an artifact folder; move it away and re-run")
            if _identity(name, dirfd) is None:
                _rename_noreplace(dirfd, tmp.name, name)
                return name, None
            return name, _exchange(dirfd, parent, tmp.name, name)
    except OSError as exc:
        if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):  # something not holding the lock got there first
            raise raced from None
        raise DeployError(f"cannot move the artifact into {out} ({first_line(exc)}); check the folder and re-run") from None


@contextmanager
def _locked(folder: Path) -> Iterator[int]:
    """An exclusive flock on the folder itself, so no lock file is left behind; yields its fd for the *at() calls."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)  # releases the lock


def _rename_noreplace(dirfd: int, src: str, dst: str) -> None:
    try:
        renameat2(dirfd, src, dst, RENAME_NOREPLACE)
    except OSError as exc:
        if exc.errno not in NO_RENAMEAT2:
            raise
        # rename(2) refuses a non-empty folder too (ENOTEMPTY/EEXIST); other conversions are kept out by the lock
        os.rename(src, dst, src_dir_fd=dirfd, dst_dir_fd=dirfd)


def _exchange(dirfd: int, parent: Path, src: str, dst: str) -> Path:
    """Swap ``src`` and ``dst`` atomically; return where the old ``dst`` is now."""
    try:
        renameat2(dirfd, src, dst, RENAME_EXCHANGE)
        return parent / src
    except OSError as exc:
        if exc.errno not in NO_RENAMEAT2:
            raise
    # Fallback, only where neither the kernel, libc nor the filesystem can exchange (not Linux, Linux < 3.15, some
    # network filesystems): two renames. Between them --out does not exist, and a crash there (an error puts the old
    # artifact back) leaves it in .NAME.old-*/x.
    aside = Path(tempfile.mkdtemp(prefix=f".{dst}.old-", dir=parent))
    try:
        os.rename(dst, aside / "x", src_dir_fd=dirfd)
    except BaseException:
        aside.rmdir()
        raise
    try:
        os.rename(src, dst, src_dir_fd=dirfd, dst_dir_fd=dirfd)
    except BaseException:  # put the old artifact back where it was
        os.rename(aside / "x", dst, dst_dir_fd=dirfd)
        aside.rmdir()
        raise
    return aside


def renameat2(dirfd: int, src: str, dst: str, flags: int) -> None:
    """renameat2(2) of two names in the folder ``dirfd``; OSError(ENOSYS) where this system does not have it."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except (OSError, TypeError):  # no C library to ask (e.g. Windows)
        raise OSError(errno.ENOSYS, "renameat2 is not available") from None
    args = (ctypes.c_int(dirfd), ctypes.c_char_p(os.fsencode(src)), ctypes.c_int(dirfd),
            ctypes.c_char_p(os.fsencode(dst)), ctypes.c_uint(flags))
    if hasattr(libc, "renameat2"):
        rc = libc.renameat2(*args)
    elif platform.system() == "Linux" and platform.machine() in SYS_RENAMEAT2:
        rc = libc.syscall(ctypes.c_long(SYS_RENAMEAT2[platform.machine()]), *args)
    else:
        raise OSError(errno.ENOSYS, "renameat2 is not available")
    if rc != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), src, None, dst)


def _remove(path: Path) -> None:
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path, ignore_errors=True)


def current_umask() -> int:
    """The umask, read without setting it where Linux allows (os.umask can only read by writing, racing other threads)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def open_up(folder: Path, umask: int) -> None:
    """Modes as a plain mkdir/open would give them: folders 0o777 & ~umask, files 0o666 & ~umask (whatever a backend or
    mkdtemp chose). Symlinks are left alone: chmod would change their targets."""
    os.chmod(folder, 0o777 & ~umask)
    for root, folders, files in os.walk(folder):
        for entry, mode in [(d, 0o777) for d in folders] + [(f, 0o666) for f in files]:
            path = os.path.join(root, entry)
            if not os.path.islink(path):
                os.chmod(path, mode & ~umask)


def write_json(path: Path, data: Any) -> None:
    Path(path).write_text(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def finish(folder: Path, manifest: dict, report: dict) -> None:
    """Write report.json, then the manifest, last, listing every other file with its checksum (``manifest`` updated)."""
    write_json(Path(folder) / REPORT, report)
    manifest["files"] = checksums.list_files(folder, NOT_LISTED)
    write_json(Path(folder) / MANIFEST, manifest)


def read_manifest(folder: Path) -> dict:
    """The manifest of an artifact folder whose files are all as `deploy convert` wrote them."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DeployError(f"{folder}: no such artifact folder; give the --out folder of a `deploy convert` run")
    path = folder / MANIFEST
    if not path.is_file():
        raise DeployError(f"{folder} has no {MANIFEST}; it is not a deploybridge artifact (re-run `deploy convert`)")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DeployError(f"{path} is not valid JSON (line {exc.lineno}); re-run `deploy convert`") from None
    if manifest.get("format") not in (FORMAT, *OLD_FORMATS):
        raise DeployError(f"{path} has format {manifest.get('format')!r}, expected {FORMAT!r}; re-run `deploy convert`")
    if not (folder / MODEL).is_file():
        raise DeployError(f"{folder} has no {MODEL}; re-run `deploy convert`")
    checksums.check_files(folder, manifest.get("files") or {}, NOT_LISTED, MANIFEST,
                          unlisted_ok=manifest.get("format") in OLD_FORMATS)
    return manifest


def update_manifest(folder: Path, **entries: Any) -> dict:
    """Set top-level manifest entries, replacing the file atomically."""
    manifest = read_manifest(folder)
    manifest.update(entries)
    tmp = Path(folder) / MANIFEST_TMP
    write_json(tmp, manifest)
    os.replace(tmp, Path(folder) / MANIFEST)
    return manifest
