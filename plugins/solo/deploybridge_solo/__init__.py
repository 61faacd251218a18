"""deploybridge plugin ``solo``: SOLOv2 from MMDetection 3.x with its post-processing in the graph or on the host,
the project's small SOLOv2 shapes config and its training script (``python -m deploybridge_solo.train``)."""
from deploybridge import hookimpl
from deploybridge_solo.rewrites import deploy_register_rewrites  # noqa: F401  (triu below opset 14)


@hookimpl
def deploy_register_families(register):
    from deploybridge.records import Family

    from deploybridge_solo.family import load

    register(Family(name="solo", load=load, description="SOLO, Decoupled SOLO, SOLOv2 (MMDetection configs; default: the shapes SOLOv2)"))


@hookimpl
def deploy_register_host_ops(register):
    from deploybridge_solo.host import HOST_OP

    register(HOST_OP)
