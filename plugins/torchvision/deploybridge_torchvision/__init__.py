"""deploybridge plugin: the ``torchvision`` family and the known warnings its detectors print while exporting."""
from deploybridge import hookimpl
from deploybridge.records import Family

from deploybridge_torchvision.catalogue import CATALOGUE


@hookimpl
def deploy_register_families(register):
    from deploybridge_torchvision.load import load

    register(Family(
        name="torchvision",
        load=load,
        models=tuple(CATALOGUE),
        description="torchvision classifiers, segmenters and detectors (tensor-in/tensor-out wrappers)",
    ))


@hookimpl
def deploy_detect_family(spec):
    return "torchvision" if spec.model in CATALOGUE else None


@hookimpl
def deploy_register_known_warnings(register):
    from deploybridge_torchvision.known_warnings import KNOWN_WARNINGS

    for known in KNOWN_WARNINGS:
        register(known)
