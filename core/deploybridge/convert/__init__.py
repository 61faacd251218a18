"""Conversion: sequencing (pipeline), export, scoped rewrites, warning triage, the graph-pass runner and the built-in
passes, the manifest, artifact writing and ONNX file I/O."""
