"""deploybridge plugin ``detr``: seed 004's minimal DETR (ResNet + nn.Transformer + learned queries, DETR's
post-processing in the graph, no NMS) as the ``detr`` family: detr_r50 (the default) and detr_r18_tiny."""
from deploybridge import hookimpl


@hookimpl
def deploy_register_families(register):
    from deploybridge.records import Family

    from deploybridge_detr.family import DEFAULT_MODEL, MODELS, load

    register(Family(name="detr", load=load, models=tuple(MODELS), default_model=DEFAULT_MODEL,
                    description=f"minimal DETR (ResNet + nn.Transformer, {', '.join(MODELS)}; default {DEFAULT_MODEL}):"
                                " images 0-1 in, boxes/scores/labels per query out"))


@hookimpl
def deploy_register_known_warnings(register):
    from deploybridge.records import KnownWarning

    register(KnownWarning(
        name="detr_transformer_size_checks", pattern=r"Converting a tensor to a Python boolean",
        module=r"^torch\.nn\.modules\.transformer$",
        why="nn.Transformer.forward compares src/tgt batch sizes and d_model only to raise RuntimeError; the detr export"
            " has static shapes, so the branch writes nothing into the graph (parity on every input:"
            " plugins/detr/tests/test_detr_convert.py)"))
