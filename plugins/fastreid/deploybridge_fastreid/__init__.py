"""deploybridge plugin ``fastreid``: re-id embedders from fastreid (Bag of Tricks, AGW, SBS, MGN; a fastreid YAML
or this plugin's named configs) as the ``fastreid`` family, ``deploy install fastreid`` (fastreid pins torch 1.13:
installed --no-deps with what it really imports), and an embedder trained on the synthetic re-id set."""
from deploybridge import hookimpl


@hookimpl
def deploy_register_families(register):
    from deploybridge.records import Family

    from deploybridge_fastreid.config import DEFAULT_MODEL, MODELS
    from deploybridge_fastreid.family import load

    register(Family(name="fastreid", load=load, models=tuple(MODELS), default_model=DEFAULT_MODEL,
                    description=f"fastreid re-id embedders (default {DEFAULT_MODEL}; --config FILE.yml, --option"
                                " KEY=VALUE, --option l2_normalize=true): images 0-255 in, features out"))


@hookimpl
def deploy_register_installers(register):
    from deploybridge.records import Installer

    from deploybridge_fastreid.install import FASTREID, NEEDS, install_fastreid

    register(Installer(name="fastreid", install=install_fastreid, version=f"fastreid=={FASTREID} (--no-deps)",
                       description=f"fastreid {FASTREID} without its torch 1.13 pin, plus {', '.join(NEEDS)}"))


@hookimpl
def deploy_register_commands(app):
    from pathlib import Path
    from typing import List

    import typer

    @app.command("reid-eval")
    def reid_eval(folders: List[Path] = typer.Argument(..., help="Embedder artifacts (deploy convert --plugin fastreid)"),
                  json_out: bool = typer.Option(False, "--json", help="Rows as JSON."),
                  allow_unverified: bool = typer.Option(False, "--allow-unverified", help="Also evaluate artifacts whose"
                                                        " verification failed (marked UNVERIFIED in the table).")) -> int:
        """Rank-1, mAP and time per image of re-id artifacts side by side, on the synthetic re-id set's 64 unseen
        identities (2 query and 4 gallery views each); the first artifact is the baseline of the speed ratio and the
        rank-1 drop."""
        import json

        from deploybridge_fastreid.reid_eval import evaluate

        rows = evaluate(folders, allow_unverified)
        if json_out:
            print(json.dumps(rows, indent=1))
            return 0
        print(f"{'artifact':<40} {'precision':<9} {'rank-1':>7} {'mAP':>7} {'ms/img':>7} {'speed':>6} {'rank-1 drop':>11}")
        for r in rows:
            name = Path(r["artifact"]).name + ("" if r["verified"] else " (UNVERIFIED)")
            print(f"{name:<40} {r['precision']:<9} {r['rank1']:7.4f} {r['mAP']:7.4f}"
                  f" {r['ms_per_image']:7.3f} {r['speed_vs_first']:5.2f}x {r['rank1_drop_points']:+10.2f}")
        return 0

    @app.command("reid-shapes")
    def reid_shapes_command(out: Path = typer.Argument(..., help="Folder to write train/, query/, gallery/ into")) -> int:
        """Write the synthetic re-id set as PNG files (NNN_K.png: identity NNN, view K); train/ holds identities never
        queried: calibrate int8 on it (--calibration OUT/train)."""
        from deploybridge_fastreid.reid_shapes import write

        counts = write(out)
        print(", ".join(f"{n} {k}/" for k, n in counts.items()) + f" images in {out}")
        return 0
