"""With deploybridge-solo not installed, every other command still works (and --plugin solo says how to get it).

The distribution is hidden from a fresh interpreter the way an uninstall would: its entry point is gone from
importlib.metadata and its package cannot be imported (a sitecustomize on PYTHONPATH), so nothing in this
process's plugin state leaks into the check.
"""
import os
import subprocess
import sys
import textwrap

HIDE = textwrap.dedent('''
    import sys
    from importlib import metadata
    sys.modules["deploybridge_solo"] = None  # import fails as if the package were absent
    _entry_points = metadata.entry_points
    def entry_points(**kw):
        found = _entry_points(**kw)
        if kw.get("group") == "deploybridge":
            return metadata.EntryPoints([ep for ep in found if ep.name != "solo"])
        return found
    metadata.entry_points = entry_points
''')


def _deploy(tmp_path, *args):
    (tmp_path / "sitecustomize.py").write_text(HIDE)
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    return subprocess.run([sys.executable, "-m", "deploybridge", *map(str, args)], env=env, capture_output=True, text=True,
                          timeout=300)


def test_other_commands_work_without_solo(tmp_path):
    listed = _deploy(tmp_path, "plugins", "--json")
    assert listed.returncode == 0, listed.stderr
    assert '"solo"' not in listed.stdout and '"mmdet"' in listed.stdout and '"torchvision"' in listed.stdout
    assert _deploy(tmp_path, "rewrites").returncode == 0
    out = tmp_path / "art"
    converted = _deploy(tmp_path, "convert", "--plugin", "torchvision", "--model", "shapes_retinanet", "--out", out)
    assert converted.returncode == 0, converted.stderr
    assert _deploy(tmp_path, "verify", out).returncode == 0
    missing = _deploy(tmp_path, "convert", "--plugin", "solo", "--model", "solov2_shapes", "--out", tmp_path / "x")
    assert missing.returncode == 2 and "unknown plugin 'solo'" in missing.stderr and "install deploybridge-solo" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
