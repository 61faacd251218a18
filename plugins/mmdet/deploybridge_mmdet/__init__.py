"""deploybridge plugin ``mmdet``: the MMDetection 3.x adapter (install, mmcv layer, config loading) and the
``mmdet`` family (RetinaNet, Mask R-CNN and other detectors from MMDetection configs), with the rewrites and known
export warnings its models need."""
from deploybridge import hookimpl


def activate() -> str:
    """Put deploybridge's mmcv layer in place (if compiled ``mmcv._ext`` is absent) so the user's own ``import
    mmdet.models`` works; returns 'compiled mmcv' or 'deploybridge'. Idempotent. See deploybridge_mmdet.activation."""
    # imported here, not at package import: `python -m deploybridge_mmdet.activation` must find it unimported
    from deploybridge_mmdet.activation import activate as _activate

    return _activate()


@hookimpl
def deploy_register_installers(register):
    from deploybridge.records import Installer

    from deploybridge_mmdet.install import MMDEPLOY, PACKAGES, install_mmdeploy, install_mmdet

    def pinned(packages):
        return ", ".join(f"{n}=={v}" for n, v in packages.items())

    register(Installer(name="mmdet", install=install_mmdet, version=pinned(PACKAGES),
                       description="MMDetection 3.3.0 with mmcv-lite (no compiled mmcv)"))
    register(Installer(name="mmdeploy", install=install_mmdeploy, version=pinned({**PACKAGES, **MMDEPLOY}),
                       description="MMDeploy 1.3.1 without its pins, for --exporter mmdeploy (mmdet too)"))


@hookimpl
def deploy_register_families(register):
    from deploybridge.records import Family

    from deploybridge_mmdet.family import load

    register(Family(name="mmdet", load=load,
                    description="MMDetection 3.x configs: single-stage, DETR-style and (Cascade) R-CNN detectors, natively"
                                " or --exporter mmdeploy (pass --config NAME_OR_PATH and --weights or --random-weights)"))


@hookimpl
def deploy_register_rewrites(register):
    from deploybridge_mmdet import mmdeploy_rewrites, rewrites

    for rewrite in (*rewrites.REWRITES, *mmdeploy_rewrites.REWRITES):
        register(rewrite)


@hookimpl
def deploy_register_known_warnings(register):
    from deploybridge_mmdet.known_warnings import KNOWN_WARNINGS

    for known in KNOWN_WARNINGS:
        register(known)
