"""The plugin host: which plugins load, what each registered, who owns it, and the isolation that keeps a broken
plugin from breaking the host. ``Host`` is what commands and tests use."""
from deploybridge.plugins.host import BUILTIN, GROUP, Host, PluginStatus, with_required_plugins

__all__ = ["BUILTIN", "GROUP", "Host", "PluginStatus", "with_required_plugins"]
