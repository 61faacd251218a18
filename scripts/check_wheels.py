#!/usr/bin/env python3
"""Build deploybridge's six wheels, install them (not editable) into a fresh virtualenv and use their package data.

An editable install reads the checkout, so a checkpoint, config or op table that a wheel leaves out goes unnoticed
there. Steps: build the wheels of deploybridge, deploybridge-rewrites and the torchvision, mmdet, solo and detectron2
plugins (from copies of the source trees, so no stale build/ or egg-info takes part) and check that every file under
each package folder is in its wheel; `python3.11 -m venv` a fresh venv and install the served torch (the Makefile's
TORCH pins) while the wheels build; install the wheels with the same pins again (pip never pulls another torch);
`deploy install mmdet`; then, with the venv's `deploy` in a working directory outside the checkout: every module and
its package data come from the venv's site-packages, `deploy plugins` (all loaded), one conversion per plugin that
reads package data, and `deploy inspect --trt-lint` (the op table).

One line per step; on a failure, exit 1 with the failing step's command and output. The temporary folder (pip's
cache included: nothing is cached outside it) is removed unless --keep. Run it with the dev venv's Python, which
builds the wheels (setuptools, --no-build-isolation):  .venv/bin/python scripts/check_wheels.py [--keep]
tests/test_wheels.py runs it; docs/plugin-author-guide.md ("Packaging") says what it checks.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# distribution -> (project folder, its package folder: every file under it must be in the wheel)
DISTS = {
    "deploybridge": (".", "core/deploybridge"),
    "deploybridge-rewrites": ("rewrites", "deploybridge_rewrites"),
    "deploybridge-torchvision": ("plugins/torchvision", "deploybridge_torchvision"),
    "deploybridge-mmdet": ("plugins/mmdet", "deploybridge_mmdet"),
    "deploybridge-solo": ("plugins/solo", "deploybridge_solo"),
    # loaded by `deploy plugins` below; Detectron2 itself is not installed here (`deploy install detectron2` builds
    # fvcore and iopath from source and pulls matplotlib and hydra: minutes), so no detectron2 conversion
    "deploybridge-detectron2": ("plugins/detectron2", "deploybridge_detectron2"),
    "deploybridge-fastreid": ("plugins/fastreid", "deploybridge_fastreid"),
    "deploybridge-detr": ("plugins/detr", "deploybridge_detr"),  # reads no package data: loaded by `deploy plugins` only
}
PLUGINS = ["rewrites", "torchvision", "mmdet", "solo", "detectron2", "fastreid", "detr"]
# package data each conversion below reads, as importlib.resources sees it in the venv
DATA = {"deploybridge": ["lint/data"], "deploybridge_torchvision": ["checkpoints"],
        "deploybridge_solo": ["checkpoints", "configs/solov2_shapes.py"], "deploybridge_fastreid": ["checkpoints"]}
CONVERSIONS = [  # (what it reads, deploy convert arguments, --out)
    ("torchvision shapes_maskrcnn (checkpoint)", ["--plugin", "torchvision", "--model", "shapes_maskrcnn"], "tv"),
    ("solo solov2_shapes (config + checkpoint)", ["--plugin", "solo", "--model", "solov2_shapes"], "solo"),
    ("mmdet retinanet_r18 (mmdet's bundled config)",
     ["--plugin", "mmdet", "--config", "retinanet/retinanet_r18_fpn_1x_coco", "--random-weights"], "retina"),
    ("fastreid shapes_reid (checkpoint)", ["--plugin", "fastreid", "--model", "shapes_reid"], "reid"),
]
SKIP = shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__", "*.pyc", "tests", ".pytest_cache")
STEPS = 11
OUTPUT_LINES = 300  # the last lines of a failing step's output that are printed

PROBE = r"""
import importlib, json, sys, sysconfig
from importlib import metadata, resources
names, data = json.loads(sys.argv[1]), json.loads(sys.argv[2])
mods = {m: importlib.import_module(m).__file__ for m in [*names, "torch"]}
files = [str(p) for pkg, rels in data.items() for rel in rels for top in [resources.files(pkg).joinpath(rel)]
         for p in (top.iterdir() if top.is_dir() else [top])]
editable = [d.name for d in metadata.distributions() if (d.name or "").lower().startswith("deploybridge")
            and json.loads(d.read_text("direct_url.json") or "{}").get("dir_info", {}).get("editable")]
print(json.dumps({"site": sysconfig.get_paths()["purelib"], "modules": mods, "data": files, "editable": editable,
                  "python": "%d.%d" % sys.version_info[:2], "torch": metadata.version("torch")}))
"""


class StepFailed(Exception):
    def __init__(self, step: str, detail: str):
        super().__init__(step)
        self.step, self.detail = step, detail


def torch_pins() -> list[str]:
    """The torch build the Makefile installs (`TORCH := torch==X torchvision==Y`): the pins live in one place."""
    m = re.search(r"^TORCH\s*:?=\s*(.+)$", (REPO / "Makefile").read_text(), re.M)
    return m.group(1).split() if m else ["torch==2.14.1", "torchvision==0.29.1"]


def package_files(project: Path, package: str) -> list[str]:
    """Files under project/package a wheel must carry, as "pkg/sub/file": git's view (tracked and new, not ignored)
    where there is one, so caches and local outputs do not count."""
    root = project / package
    try:
        listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "--", package], cwd=project,
                                capture_output=True, text=True, check=True).stdout.splitlines()
        files = [project / f for f in listed]
    except (OSError, subprocess.CalledProcessError):
        files = list(root.rglob("*"))
    return sorted(str(f.relative_to(root.parent)) for f in files
                  if f.is_file() and "__pycache__" not in f.parts and f.suffix != ".pyc")


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the command's own process group: pip under `deploy install` too
    except (ProcessLookupError, PermissionError):
        pass


class Checker:
    def __init__(self, tmp: Path, python: str):
        self.tmp, self.python, self.pins = tmp, python, torch_pins()
        self.work, self.venv, self.wheels = tmp / "work", tmp / "venv", tmp / "wheels"  # work: cwd, outside the repo
        self.bin = self.venv / "bin"
        self.running: set[subprocess.Popen] = set()
        drop = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "PIP_NO_CACHE_DIR", "PIP_CACHE_DIR")
        self.env = {k: v for k, v in os.environ.items() if k not in drop}
        path = [p for p in self.env.get("PATH", "").split(os.pathsep) if p and p != str(Path(sys.prefix) / "bin")]
        self.env.update(PATH=os.pathsep.join([str(self.bin), *path]), VIRTUAL_ENV=str(self.venv), PYTHONNOUSERSITE="1",
                        PIP_CACHE_DIR=str(tmp / "pip-cache"), XDG_CACHE_HOME=str(tmp / "cache"),
                        TORCH_HOME=str(tmp / "cache" / "torch"),  # pip's own config stays: it names the served indexes
                        PIP_DISABLE_PIP_VERSION_CHECK="1")

    def step(self, number: int, title: str) -> tuple[int, float]:
        print(f"[{number}/{STEPS}] {title} ...", flush=True)
        return number, time.monotonic()

    def done(self, token: tuple[int, float], note: str = "") -> None:
        print(f"[{token[0]}/{STEPS}] ok ({time.monotonic() - token[1]:.1f} s){'  ' + note if note else ''}", flush=True)

    def start(self, cmd: list, cwd: Path | None = None) -> subprocess.Popen:
        proc = subprocess.Popen([str(c) for c in cmd], cwd=cwd or self.work, env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self.running.add(proc)
        return proc

    def finish(self, step: str, proc: subprocess.Popen, timeout: float = 1200) -> str:
        cmd = " ".join(map(str, proc.args))
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill(proc)
            raise StepFailed(step, f"$ {cmd}\ntimed out after {timeout:.0f} s\n{proc.communicate()[0]}") from None
        finally:
            self.running.discard(proc)
        if proc.returncode != 0:
            raise StepFailed(step, f"$ {cmd}\nexit code {proc.returncode}\n{out}")
        return out

    def run(self, step: str, cmd: list, cwd: Path | None = None) -> str:
        return self.finish(step, self.start(cmd, cwd))

    def kill_all(self) -> None:
        for proc in list(self.running):
            _kill(proc)

    def pip_install(self, args: list) -> list:
        # --no-compile: no .pyc for all of torch (what runs is compiled on import); the torch pins go to every call
        return [self.bin / "python", "-m", "pip", "install", "-q", "--no-compile", *args, *self.pins]

    # -- steps -------------------------------------------------------------------------------------------------
    def build(self) -> None:
        t = self.step(2, f"build {len(DISTS)} wheels")
        self.wheels.mkdir()
        missing = []
        for dist, (folder, package) in DISTS.items():
            project, copy = REPO / folder, self.tmp / "src" / dist
            if folder == ".":  # the root project: pyproject.toml, README.md (its readme) and the core/ src root
                shutil.copytree(project / "core", copy / "core", ignore=SKIP)
                for name in ("pyproject.toml", "README.md", "MANIFEST.in"):
                    if (project / name).exists():
                        shutil.copy2(project / name, copy / name)
            else:
                shutil.copytree(project, copy, ignore=SKIP)
            before = set(self.wheels.iterdir())
            self.run(f"build {dist}", [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                                       "-w", self.wheels, copy], cwd=self.tmp)
            new = [w for w in set(self.wheels.iterdir()) - before if w.suffix == ".whl"]
            if len(new) != 1:
                raise StepFailed(f"build {dist}", f"expected one new wheel in {self.wheels}, found {new}")
            with zipfile.ZipFile(new[0]) as zf:
                names = set(zf.namelist())
            missing += [f"{new[0].name} lacks {f}" for f in package_files(project, package) if f not in names]
        if missing:
            raise StepFailed("wheel contents", "files under a package folder that its wheel leaves out (add them to"
                             " the pyproject.toml's packages / package-data):\n" + "\n".join(missing))
        self.done(t, ", ".join(sorted(w.name for w in self.wheels.glob("*.whl"))))

    def check_origins(self) -> None:
        t = self.step(5, "modules and package data come from the venv's site-packages, nothing from the checkout")
        modules = [package.split("/")[-1] for _, package in DISTS.values()]
        info = json.loads(self.run("origins", [self.bin / "python", "-c", PROBE, json.dumps(modules),
                                               json.dumps(DATA)]).strip().splitlines()[-1])
        site = Path(info["site"]).resolve()
        paths = [*info["modules"].values(), *info["data"]]
        problems = [f"{p} is not in {site}" for p in paths
                    if not Path(p).resolve().is_relative_to(site) or Path(p).resolve().is_relative_to(REPO)]
        problems += [f"{p} is missing" for p in info["data"] if not Path(p).is_file()]
        problems += [f"{n} is an editable install" for n in info["editable"]]
        problems += [f"{pth} points into the checkout" for pth in site.glob("*.pth")
                     if str(REPO) in pth.read_text(errors="replace")]
        problems += [f"Python {info['python']}, deploybridge needs 3.11"] if info["python"] != "3.11" else []
        want = self.pins[0].split("==")[-1]
        problems += [f"torch {info['torch']} installed, not {want}"] if info["torch"].split("+")[0] != want else []
        if problems:
            raise StepFailed("origins", "\n".join(problems) + "\n" + json.dumps(info, indent=1))
        self.done(t, f"{len(info['modules'])} modules, {len(info['data'])} data files, torch {info['torch']}")

    def plugins(self) -> None:
        t = self.step(6, "deploy plugins")
        out = self.run("deploy plugins", [self.bin / "deploy", "plugins", "--json"])
        try:
            status = {p["name"]: p["status"] for p in json.loads(out)["plugins"]}
        except (ValueError, KeyError, TypeError) as exc:
            raise StepFailed("deploy plugins", f"unreadable --json output ({exc}):\n{out}") from None
        bad = [f"{n}: {status.get(n, 'absent')}" for n in sorted(set(PLUGINS) | set(status))
               if status.get(n) != "loaded"]
        if bad:
            raise StepFailed("deploy plugins", "not loaded: " + "; ".join(bad) + "\n" + out)
        self.done(t, ", ".join(f"{n} {s}" for n, s in status.items()))

    def convert(self, number: int, what: str, args: list, out: str) -> None:
        t = self.step(number, f"deploy convert {what}")
        # one verification input is enough here: the point is that the model loads from the installed package data
        self.run(f"convert {what}", [self.bin / "deploy", "convert", *args, "--num-inputs", "1", "--out", out])
        manifest = json.loads((self.work / out / "manifest.json").read_text())
        self.done(t, manifest.get("verification", {}).get("summary", ""))

    def inspect(self, folder: str) -> None:
        t = self.step(STEPS, f"deploy inspect {folder} --trt-lint")
        out = self.run("inspect --trt-lint", [self.bin / "deploy", "inspect", folder, "--trt-lint"])
        title = next((ln.strip() for ln in out.splitlines() if "TensorRT" in ln and "lint:" in ln), None)
        if title is None:
            raise StepFailed("inspect --trt-lint", "no TensorRT lint table in the output:\n" + out)
        self.done(t, title)

    def all(self) -> None:
        self.work.mkdir()
        # the venv gets torch (the longest step) while the wheels build: two independent single-core jobs
        t = self.step(1, f"fresh venv ({self.python} -m venv) + {' '.join(self.pins)}, in the background")
        chain = " && ".join(shlex.join(map(str, c)) for c in
                            ([self.python, "-m", "venv", self.venv], self.pip_install([])))
        torch = self.start(["sh", "-c", chain], cwd=self.tmp)
        self.build()
        self.finish("venv + torch", torch)
        self.done(t)
        t = self.step(3, f"install the {len(DISTS)} wheels (not editable; the torch pins again)")
        self.run("install wheels", self.pip_install(sorted(self.wheels.glob("*.whl"))))
        self.done(t)
        t = self.step(4, "deploy install mmdet, deploy install fastreid")
        out = self.run("deploy install mmdet", [self.bin / "deploy", "install", "mmdet"]).strip()
        out += "\n" + self.run("deploy install fastreid", [self.bin / "deploy", "install", "fastreid"]).strip()
        self.done(t, out.splitlines()[-1] if out else "")
        self.check_origins()
        self.plugins()
        for number, (what, args, out_dir) in enumerate(CONVERSIONS, start=7):
            self.convert(number, what, args, out_dir)
        self.inspect("retina")


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default=shutil.which("python3.11") or "python3.11",
                        help="Interpreter for the fresh venv (default: python3.11 on PATH).")
    parser.add_argument("--keep", action="store_true", help="Keep the temporary folder (wheels, venv, artifacts).")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)  # a test runner's timeout ends like Ctrl-C: the finally cleans up
    tmp = Path(tempfile.mkdtemp(prefix="deploybridge-wheels-")).resolve()
    started, checker = time.monotonic(), Checker(tmp, args.python)
    try:
        if tmp.is_relative_to(REPO):
            raise StepFailed("temporary folder", f"{tmp} is inside the checkout; set TMPDIR to a folder outside it")
        checker.all()
    except StepFailed as exc:
        lines = exc.detail.rstrip().splitlines()
        if len(lines) > OUTPUT_LINES:
            lines = [f"... ({len(lines) - OUTPUT_LINES} lines above left out)", *lines[-OUTPUT_LINES:]]
        print(f"FAILED: {exc.step}\n" + "\n".join(lines), file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        checker.kill_all()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"wheels ok: {len(DISTS)} wheels installed in a fresh venv, {len(PLUGINS)} plugins loaded, {len(CONVERSIONS)}"
          f" conversions and a TensorRT lint from package data ({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
