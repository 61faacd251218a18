"""The built-in op-rewrite library, registered by the ``builtin`` plugin.

Each rewrite is one module here plus one test in ``tests/rewrites``; add its
record to ``BUILTIN_REWRITES`` to register it. Warnings that were looked at
and do not matter are listed in ``known_warnings``. See docs/writing-a-rewrite.md.
"""
from deploybridge.records import Rewrite
from deploybridge.rewrites import linspace, negative_index, roi_align_aligned

BUILTIN_REWRITES: list[Rewrite] = [linspace.REWRITE, roi_align_aligned.REWRITE, negative_index.REWRITE]
