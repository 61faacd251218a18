"""deploybridge plugin ``fastreid``: re-id embedders from fastreid (Bag of Tricks, AGW, SBS, MGN; a fastreid YAML
or this plugin's named configs) as the ``fastreid`` family, ``deploy install fastreid`` (fastreid pins torch 1.13:
installed --no-deps with what it really imports), and an embedder trained on the synthetic re-id set."""
from deploybridge import hookimpl


@hookimpl
def deploy_register_families(register):
    from deploybridge.records import Family

    from deploybridge_fastreid.config import DEFAULT_MODEL, MODELS
    from deploybridge_fastreid.family import load

    register(Family(name="fastreid", load=load, models=tuple(MODELS),
                    description=f"fastreid re-id embedders (default {DEFAULT_MODEL}; --config FILE.yml, --option"
                                " KEY=VALUE, --option l2_normalize=true): images 0-255 in, features out"))


@hookimpl
def deploy_register_installers(register):
    from deploybridge.records import Installer

    from deploybridge_fastreid.install import FASTREID, NEEDS, install_fastreid

    register(Installer(name="fastreid", install=install_fastreid, version=f"fastreid=={FASTREID} (--no-deps)",
                       description=f"fastreid {FASTREID} without its torch 1.13 pin, plus {', '.join(NEEDS)}"))
