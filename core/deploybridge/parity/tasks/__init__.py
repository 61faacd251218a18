"""One module per task kind: how its objects are paired and the bounds they are held to (deploybridge.parity.task)."""
