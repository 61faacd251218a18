"""deploybridge plugin ``detectron2``: the Detectron2 adapter (install without compiling, model-zoo and YAML configs
with ``KEY=VALUE`` overrides) and the ``detectron2`` family (GeneralizedRCNN and RetinaNet models), with the rewrites
and known export warnings its models need."""
from deploybridge import hookimpl


@hookimpl
def deploy_register_commands(app):
    @app.command("detectron2-configs")
    def configs() -> int:
        """List the Detectron2 model-zoo configs (and this plugin's own) that --config takes by name."""
        from deploybridge_detectron2.config import _require_detectron2, zoo_names

        _require_detectron2()
        print("\n".join(zoo_names()))
        return 0


@hookimpl
def deploy_register_installers(register):
    from deploybridge.records import Installer

    from deploybridge_detectron2.install import WHEEL, install_detectron2, installed

    source = installed() == "source build"  # a Detectron2 built from source is used as it is
    register(Installer(name="detectron2", install=install_detectron2,
                       version="detectron2 (source build)" if source else f"{WHEEL[0]}=={WHEEL[1]} (pure Python, without _C)",
                       description=f"Detectron2 from {WHEEL[0]}=={WHEEL[1]}, pure Python (its cp310 _C left out)"))


@hookimpl
def deploy_register_families(register):
    from deploybridge.records import Family

    from deploybridge_detectron2.family import load

    register(Family(name="detectron2", load=load, description="Detectron2 model-zoo or YAML configs: Faster/Mask/Keypoint/"
                    "Cascade R-CNN (FPN, C4) and RetinaNet (pass --config NAME_OR_PATH, --option KEY=VALUE, and"
                    " --weights or --random-weights)"))


@hookimpl
def deploy_register_rewrites(register):
    from deploybridge_detectron2 import box_split
    from deploybridge_detectron2.rewrites import REWRITES
    from deploybridge_detectron2.torchscript import TRACE_REWRITES  # in force while TorchScript traces

    for rewrite in (*REWRITES, *box_split.REWRITES, *TRACE_REWRITES):
        register(rewrite)


@hookimpl
def deploy_register_known_warnings(register):
    from deploybridge_detectron2.known_warnings import KNOWN_WARNINGS

    for known in KNOWN_WARNINGS:
        register(known)
