"""`deploy debug`: the first tensor where an artifact departs from PyTorch (or from float32 ONNX Runtime), named by
its op, node, PyTorch module, source line and the rewrite that matches it."""
