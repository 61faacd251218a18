"""With deploybridge-detectron2 not loadable, every other command still works (and --plugin detectron2 says how to
get it). The distribution is hidden from a fresh interpreter the way an uninstall would: its entry point is gone from
importlib.metadata and its package cannot be imported (a sitecustomize on PYTHONPATH)."""
import os
import subprocess
import sys
import textwrap

HIDE = textwrap.dedent('''
    import sys
    from importlib import metadata
    sys.modules["deploybridge_detectron2"] = None  # import fails as if the package were absent
    _entry_points = metadata.entry_points
    def entry_points(**kw):
        found = _entry_points(**kw)
        if kw.get("group") == "deploybridge":
            return metadata.EntryPoints([ep for ep in found if ep.name != "detectron2"])
        return found
    metadata.entry_points = entry_points
''')


def _deploy(tmp_path, *args):
    (tmp_path / "sitecustomize.py").write_text(HIDE)
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    return subprocess.run([sys.executable, "-m", "deploybridge", *map(str, args)], env=env, capture_output=True, text=True,
                          timeout=300)


def test_other_commands_work_without_the_detectron2_plugin(tmp_path):
    listed = _deploy(tmp_path, "plugins", "--json")
    assert listed.returncode == 0, listed.stderr
    assert '"detectron2"' not in listed.stdout and '"torchvision"' in listed.stdout and '"mmdet"' in listed.stdout
    assert _deploy(tmp_path, "rewrites").returncode == 0
    installs = _deploy(tmp_path, "install", "no-such-target")  # the install targets left: mmdet's, not detectron2
    assert installs.returncode == 2 and "mmdet" in installs.stderr and "detectron2" not in installs.stderr
    out = tmp_path / "art"
    converted = _deploy(tmp_path, "convert", "--plugin", "torchvision", "--model", "shapes_retinanet", "--out", out)
    assert converted.returncode == 0, converted.stderr
    assert _deploy(tmp_path, "verify", out).returncode == 0
    missing = _deploy(tmp_path, "convert", "--plugin", "detectron2", "--config", "COCO-Detection/retinanet_R_50_FPN_3x",
                      "--random-weights", "--out", tmp_path / "x")
    assert missing.returncode == 2, missing.stderr
    assert "unknown plugin 'detectron2'" in missing.stderr and "install deploybridge-detectron2" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1 and not (tmp_path / "x").exists()
