"""The plugin host (:mod:`.host`): which plugins load, what each registered, who owns it, and the isolation that
keeps a broken plugin from breaking the host; the contract it checks (:mod:`.contract`); entry-point selection
(:mod:`.loading`); the built-in plugin (:mod:`.builtin`)."""
from deploybridge.plugins.host import BUILTIN, Host, availability

__all__ = ["BUILTIN", "Host", "availability"]
