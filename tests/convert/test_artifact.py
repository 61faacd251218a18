"""The artifact folder: modes from the umask, an atomic --force swap, racing conversions, a checksum for every file."""
import errno
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import FIXTURES, CliResult, assert_one_line_error
from deploybridge.convert import artifact
from deploybridge.errors import DeployError


def _modes(folder: Path) -> dict[str, int]:
    """Permission bits of ``folder`` ('.') and of everything under it, by relative path."""
    found = {".": stat.S_IMODE(folder.stat().st_mode)}
    found.update({p.relative_to(folder).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in folder.rglob("*")})
    return found


def _expected_modes(folder: Path, umask: int) -> dict[str, int]:
    return {rel: (0o777 if rel == "." or (folder / rel).is_dir() else 0o666) & ~umask for rel in _modes(folder)}


# -- permissions ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("umask", [0o022, 0o077], ids=["umask022", "umask077"])
def test_modes_follow_the_umask(cli, tiny, tmp_path, umask):
    """A converted artifact, and a staged folder whose writer chose private modes (as mkdtemp and mkstemp do), end up
    with the modes a plain mkdir/open gives under the user's umask."""
    previous = os.umask(umask)
    try:
        out = tmp_path / "arts" / "tiny"
        assert cli("convert", "--plugin", "tiny", "--model", "tiny-net", "--random-weights", "--out", out).code == 0
        staged_out = tmp_path / "arts" / "staged"
        with artifact.staged(staged_out, force=False) as tmp:
            (tmp / "segments" / "0").mkdir(parents=True, mode=0o700)
            (tmp / "segments" / "0" / "engine.plan").write_bytes(b"x")
            os.chmod(tmp / "segments" / "0" / "engine.plan", 0o600)
    finally:
        os.umask(previous)
    for folder in (out, staged_out):
        assert _modes(folder) == _expected_modes(folder, umask)
    assert _modes(out)["."] == (0o755 if umask == 0o022 else 0o700)


# -- the --force swap -------------------------------------------------------------------------------------
def _old_artifact(out: Path) -> None:
    out.mkdir(parents=True)
    (out / "who").write_text("old")


@pytest.mark.parametrize("mode, fail_at", [("renameat2", 1), ("fallback", 1), ("fallback", 2)])
def test_force_swap_never_leaves_out_missing_or_the_old_artifact_stranded(tmp_path, monkeypatch, mode, fail_at):
    """Whichever rename of the final step fails (a crash there), --out holds the old artifact and nothing else is left
    in the parent folder. With renameat2 the swap is one exchange, so --out exists after every rename; the fallback
    (no renameat2) moves the old folder aside first, and a failure of the second rename puts it back."""
    out = tmp_path / "out"
    _old_artifact(out)
    calls = []

    def failing(real):
        def rename(*args, **kwargs):
            calls.append(None)
            if len(calls) == fail_at:
                raise OSError(errno.EIO, "simulated crash")
            real(*args, **kwargs)
            if mode == "renameat2":
                assert out.exists(), "--out is missing between two renames"
        return rename

    def no_renameat2(*args):
        raise OSError(errno.ENOSYS, os.strerror(errno.ENOSYS))

    monkeypatch.setattr(os, "rename", failing(os.rename))
    monkeypatch.setattr(os, "replace", failing(os.replace))
    monkeypatch.setattr(artifact, "renameat2", failing(artifact.renameat2) if mode == "renameat2" else no_renameat2)
    with pytest.raises((DeployError, OSError)):
        with artifact.staged(out, force=True) as tmp:
            (tmp / "who").write_text("new")
    monkeypatch.undo()
    assert len(calls) >= fail_at
    assert (out / "who").read_text() == "old"
    assert os.listdir(tmp_path) == ["out"]


@pytest.mark.parametrize("code", [errno.ENOSYS, errno.EINVAL], ids=["ENOSYS", "EINVAL"])
def test_without_renameat2_the_fallback_still_publishes(tmp_path, monkeypatch, code):
    def unavailable(*args):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(artifact, "renameat2", unavailable)
    out = tmp_path / "out"
    with artifact.staged(out, force=False) as tmp:
        (tmp / "who").write_text("first")
    with artifact.staged(out, force=True) as tmp:
        (tmp / "who").write_text("second")
    assert (out / "who").read_text() == "second" and os.listdir(tmp_path) == ["out"]


# -- two conversions racing to one --out ------------------------------------------------------------------
RACER = '''
"""A tiny family whose load waits until a second process has started too: both runs hold a staged folder at once."""
import os
import time
from pathlib import Path

import db_test_tiny
from deploybridge import hookimpl
from deploybridge.records import Family


def load(spec):
    barrier = Path(os.environ["DB_TEST_BARRIER"])
    (barrier / str(os.getpid())).touch()
    deadline = time.monotonic() + 120
    while len(list(barrier.iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    return db_test_tiny.load(spec)


@hookimpl
def deploy_register_families(register):
    register(Family(name="racer", load=load, models=("tiny-net",), description="test: waits for a rival"))
'''


def _race(commands: list[list[str]], env: dict) -> list[CliResult]:
    procs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for c in commands]
    return [CliResult(p.wait(timeout=300), p.stdout.read(), p.stderr.read()) for p in procs]


def _one_winner(results: list[CliResult]) -> int:
    """Exactly one run exits 0 and the other 2 with a one-line error; returns the winner's index."""
    codes = sorted(r.code for r in results)
    assert codes == [0, 2], [(r.code, r.err) for r in results]
    loser = next(r for r in results if r.code == 2)
    assert_one_line_error(loser, 2, contains="another conversion wrote")
    return next(k for k, r in enumerate(results) if r.code == 0)


def test_two_deploy_converts_racing_to_one_out(fake_plugin, tmp_path):
    """Two real `deploy convert` processes, both past their destination check before either publishes."""
    fake_plugin("tiny", "db_test_tiny")
    fake_plugin("racer", "db_test_racer")
    site = tmp_path / "site-packages"
    (site / "db_test_racer.py").write_text(RACER)
    (tmp_path / "barrier").mkdir()
    path = [str(site), str(FIXTURES), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path), "DB_TEST_BARRIER": str(tmp_path / "barrier")}
    out = tmp_path / "arts" / "out"
    command = [sys.executable, "-m", "deploybridge", "convert", "--plugin", "racer", "--model", "tiny-net", "--out", str(out)]
    results = _race([[*command, "--random-weights", "--seed", str(k)] for k in (1, 2)], env)
    winner = _one_winner(results)
    assert len(list((tmp_path / "barrier").iterdir())) == 2, "the runs did not overlap"
    assert os.listdir(tmp_path / "arts") == ["out"]  # no staged folder, no lock file
    manifest = artifact.read_manifest(out)  # complete: every file matches its checksum
    assert manifest["spec"]["seed"] == winner + 1


SWAPPER = '''
import os, sys, time
from pathlib import Path
from deploybridge.convert import artifact
from deploybridge.errors import DeployError

out, barrier, me, mode = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4]
look = artifact._identity
def slow_look(*args):  # widens the gap between looking at --out and swapping: without the lock both would swap
    seen = look(*args)
    time.sleep(0.3)
    return seen
artifact._identity = slow_look
if mode == "fallback":
    def unavailable(*args):
        raise OSError(38, "renameat2 is not available")
    artifact.renameat2 = unavailable
try:
    with artifact.staged(out, force=True) as tmp:
        (tmp / "who").write_text(me)
        (barrier / me).touch()
        while len(list(barrier.iterdir())) < 2:
            time.sleep(0.005)
except DeployError as exc:
    print(f"error: {exc}", file=sys.stderr)
    sys.exit(exc.exit_code)
'''


@pytest.mark.parametrize("mode", ["renameat2", "fallback"])
def test_two_forced_swaps_racing_on_an_existing_out(tmp_path, mode):
    """Both runs saw the same old artifact; the one that swaps second finds the first one's instead and gives up."""
    out = tmp_path / "arts" / "out"
    _old_artifact(out)
    script = tmp_path / "swapper.py"
    script.write_text(SWAPPER)
    (tmp_path / "barrier").mkdir()
    results = _race([[sys.executable, str(script), str(out), str(tmp_path / "barrier"), str(k), mode] for k in (0, 1)],
                    dict(os.environ))
    winner = _one_winner(results)
    assert (out / "who").read_text() == str(winner)
    assert os.listdir(tmp_path / "arts") == ["out"]


# -- a checksum for every file ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cut_artifact(tmp_path_factory) -> Path:
    """shapes_retinanet with --truncate-nms: engine segments, report.json and report.png (converted once)."""
    from deploybridge.cli import main

    out = tmp_path_factory.mktemp("cut") / "cut"
    assert main(["convert", "--plugin", "torchvision", "--model", "shapes_retinanet", "--truncate-nms", "--out", str(out)]) == 0
    return out


def test_manifest_lists_every_file_and_verify_accepts_it(cli, cut_artifact):
    files = json.loads((cut_artifact / "manifest.json").read_text())["files"]
    present = sorted(p.relative_to(cut_artifact).as_posix() for p in cut_artifact.rglob("*") if p.is_file())
    assert sorted(files) == [p for p in present if p != "manifest.json"]
    assert {"model.onnx", "report.json", "report.png", "segments/0/model.onnx", "segments/1/model.onnx"} <= set(files)
    for rel, entry in files.items():
        data = (cut_artifact / rel).read_bytes()  # hashed here independently of the code under test
        assert entry == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    assert _modes(cut_artifact) == _expected_modes(cut_artifact, artifact.current_umask())
    assert cli("verify", cut_artifact).code == 0


def _append(path: Path) -> None:
    with open(path, "ab") as f:
        f.write(b"\0")


TAMPERING = {
    "modified segment": ("segments/0/model.onnx", _append, "does not match the checksum"),
    "modified report": ("report.json", _append, "does not match the checksum"),
    "missing picture": ("report.png", Path.unlink, "is missing"),
    "extra engine": ("segments/1/model.plan", lambda p: p.write_bytes(b"engine"), "is not listed"),
}


@pytest.mark.parametrize("case", list(TAMPERING))
def test_verify_names_a_modified_missing_or_unlisted_file(cli, cut_artifact, tmp_path, case):
    rel, tamper, says = TAMPERING[case]
    copy = tmp_path / "cut"
    shutil.copytree(cut_artifact, copy)
    tamper(copy / rel)
    result = cli("verify", copy)
    assert_one_line_error(result, 2, contains=rel)
    assert says in result.err and "re-run `deploy convert`" in result.err


def test_old_manifests_and_updated_manifests_stay_readable(cut_artifact, tmp_path):
    """A deploybridge-artifact/1 manifest listed model.onnx only: that one is still checked, unlisted files are not
    an error. `deploy threshold` rewriting the manifest keeps every checksum valid."""
    copy = tmp_path / "cut"
    shutil.copytree(cut_artifact, copy)
    artifact.update_manifest(copy, thresholds={"overall": 0.5})
    assert artifact.read_manifest(copy)["thresholds"] == {"overall": 0.5}
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest.update(format="deploybridge-artifact/1", files={"model.onnx": manifest["files"]["model.onnx"]})
    artifact.write_json(copy / "manifest.json", manifest)
    assert artifact.read_manifest(copy)["format"] == "deploybridge-artifact/1"
    _append(copy / "model.onnx")
    with pytest.raises(DeployError, match="model.onnx does not match the checksum"):
        artifact.read_manifest(copy)
