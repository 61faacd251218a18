"""deploybridge: take a trained vision model to a deployable artifact and prove
that the artifact computes the same thing as the original model.

Importing this package is cheap on purpose (no torch, no plugins): the CLI
imports it on every call, `deploy --help` included.
"""
import pluggy

__version__ = "0.1.0"

#: Decorator for plugin hook implementations: ``@hookimpl def deploy_register_families(register): ...``
hookimpl = pluggy.HookimplMarker("deploybridge")

__all__ = ["__version__", "hookimpl"]
