"""deploybridge: take a trained vision model to a deployable artifact and prove
that the artifact computes the same thing as the original model.

Importing this package is cheap on purpose (no torch, no plugins): the CLI
imports it on every call, `deploy --help` included.
"""
import pluggy

__version__ = "0.1.0"

#: Decorator for plugin hook implementations: ``@hookimpl def deploy_register_families(register): ...``
hookimpl = pluggy.HookimplMarker("deploybridge")

#: The modules a plugin may import from deploybridge (docs/plugin-author-guide.md, "The plugin API"); everything
#: else is the host's own and may change. tests/test_plugin_api.py fails if a bundled plugin imports anything else.
PLUGIN_API = (
    "deploybridge",  # hookimpl, __version__
    "deploybridge.hookspecs",  # the hooks, typed
    "deploybridge.records",  # what plugins register and receive
    "deploybridge.errors",  # DeployError (exit 2), VerificationFailed (exit 1), first_line
    "deploybridge.parity.synthetic_inputs",  # deterministic verification images
    "deploybridge.parity.head_calibration",  # random weights made informative (classifier shifts, frozen-norm statistics)
    "deploybridge.evaluation.datasets.shapes",  # the embedded shapes dataset (for families with shapes-trained models)
    "deploybridge.evaluation.ap_delta",  # AP of a model on a dataset (training scripts' validation)
    "deploybridge.runtime.image_io",  # images fed and outputs read as deploy run / --eval do (to_input, detect)
    "deploybridge.runtime.predict",  # artifacts run from a plugin's own evaluation (artifact_runner, artifact_predictor)
    "deploybridge.plugins.pip",  # installers: installed versions, pip install keeping the installed torch
)

__all__ = ["__version__", "hookimpl", "PLUGIN_API"]
