"""A conversion that fails verification keeps its artifact, marked unverified, and never replaces a verified one."""
import json
import os

from conftest import assert_one_line_error


def convert(cli, out, *extra):
    return cli("convert", "--plugin", "tiny", "--model", "tiny-net", "--random-weights", "--out", out, *extra)


def failing(cli, out, *extra):
    """The perturbed backend shifts every output by 1e-2: verification fails (exit 1)."""
    result = convert(cli, out, "--backend", "perturbed", *extra)
    assert result.code == 1, result.err
    return result


def manifest(folder):
    return json.loads((folder / "manifest.json").read_text())


def test_a_failed_conversion_into_a_free_out_is_kept_there_marked_unverified(cli, tiny, tmp_path):
    out = tmp_path / "art"
    result = failing(cli, out)
    assert manifest(out)["verified"] is False and manifest(out)["verification"]["passed"] is False
    assert f"kept UNVERIFIED for debugging in {out} " in result.err and "still holds" not in result.err
    assert f"artifact: {out} " in result.out
    assert [r.artifact for r in tiny.FINISHED] == [out]
    assert convert(cli, tmp_path / "ok").code == 0 and manifest(tmp_path / "ok")["verified"] is True


def test_force_never_replaces_a_verified_artifact_with_an_unverified_one(cli, tiny, tmp_path):
    out, beside = tmp_path / "art", tmp_path / "art.unverified"
    assert convert(cli, out).code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    result = failing(cli, out, "--force")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # byte for byte
    assert manifest(beside)["verified"] is False
    assert f"kept UNVERIFIED for debugging in {beside}; {out} still holds the verified artifact" in result.err
    assert tiny.FINISHED[-1].artifact == beside
    # a second failure replaces the older unverified one beside it; nothing else is left in the folder
    failing(cli, out, "--force", "--seed", "5")
    assert manifest(beside)["spec"]["seed"] == 5 and manifest(out)["spec"]["seed"] == 0
    assert sorted(os.listdir(tmp_path)) == ["art", "art.unverified", "site-packages"]
    # a verified result still replaces a verified artifact with --force
    assert convert(cli, out, "--force", "--seed", "6").code == 0 and manifest(out)["spec"]["seed"] == 6


def test_force_replaces_an_unverified_artifact_in_place(cli, tiny, tmp_path):
    out = tmp_path / "art"
    failing(cli, out)
    failing(cli, out, "--force", "--seed", "7")
    assert manifest(out)["spec"]["seed"] == 7 and sorted(os.listdir(tmp_path)) == ["art", "site-packages"]
    assert convert(cli, out, "--force").code == 0 and manifest(out)["verified"] is True


def test_old_artifacts_without_the_marker_count_by_their_verification(cli, tiny, tmp_path):
    """Written before the "verified" marker: verification.passed decides, so a passing one is still protected."""
    out = tmp_path / "art"
    assert convert(cli, out).code == 0
    old = manifest(out)
    del old["verified"]
    (out / "manifest.json").write_text(json.dumps(old))
    failing(cli, out, "--force")
    assert "verified" not in manifest(out) and manifest(tmp_path / "art.unverified")["verified"] is False


def test_a_non_artifact_where_the_unverified_one_would_go_is_left_alone(cli, tiny, tmp_path):
    out = tmp_path / "art"
    assert convert(cli, out).code == 0
    (tmp_path / "art.unverified").mkdir()
    (tmp_path / "art.unverified" / "notes.txt").write_text("mine")
    result = convert(cli, out, "--backend", "perturbed", "--force")
    assert_one_line_error(result, 2, contains="is not an artifact folder; move it away")
    assert os.listdir(tmp_path / "art.unverified") == ["notes.txt"] and manifest(out)["verified"] is True
    assert sorted(os.listdir(tmp_path)) == ["art", "art.unverified", "site-packages"]  # no staged folder left


def test_an_inconclusive_verification_not_accepted_is_unverified(cli, fake_plugin, tmp_path):
    fake_plugin("blank", "db_test_blank")
    args = ("convert", "--plugin", "blank", "--model", "zeros", "--random-weights")
    assert cli(*args, "--out", tmp_path / "a").code == 1 and manifest(tmp_path / "a")["verified"] is False
    assert cli(*args, "--allow-inconclusive", "--out", tmp_path / "b").code == 0
    assert manifest(tmp_path / "b")["verified"] is True
