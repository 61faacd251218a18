"""The built-in op-rewrite library, registered by the ``builtin`` plugin.

Each rewrite is one module here plus one test in ``tests/rewrites``; add it to
``BUILTIN_REWRITES`` to register it. See docs/writing-a-rewrite.md.
"""
from deploybridge.records import Rewrite

BUILTIN_REWRITES: list[Rewrite] = []
