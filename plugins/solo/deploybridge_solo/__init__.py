"""deploybridge plugin ``solo``: SOLO / SOLOv2 from MMDetection 3.x (work in progress, issue 11).

So far: the project's own small SOLOv2 config for the shapes dataset and its training script
(``python -m deploybridge_solo.train``). The family (graph and host post-processing) comes next.
"""
