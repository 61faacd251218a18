"""A test plugin with passes that do what exporters and backends do to outputs: reorder them, rename them."""
from deploybridge import hookimpl
from deploybridge.records import GraphPass


def reverse_outputs(graph, ctx):
    graph.outputs = list(reversed(graph.outputs))
    return graph


def mangle_output_names(graph, ctx):
    for k, out in enumerate(graph.outputs):
        out.name = f"{out.name}.{35 + k}"  # as Detectron2's TracingAdapter names them
    return graph


@hookimpl
def deploy_register_graph_passes(register):
    register(GraphPass("reverse_outputs", reverse_outputs, order=60, description="test: reverse the output order"))
    register(GraphPass("mangle_output_names", mangle_output_names, order=61, description="test: rename outputs x -> x.35"))
