"""The built-in op-rewrite library, a built-in plugin (owner name ``rewrites``).

Each rewrite is one module here plus one test in ``tests/rewrites``; add its
record to ``BUILTIN_REWRITES`` to register it. Export warnings that were looked
at and do not matter are registered by the plugin whose code prints them
(hook ``deploy_register_known_warnings``). See docs/writing-a-rewrite.md.
"""
from deploybridge import hookimpl
from deploybridge.records import Rewrite
from deploybridge_rewrites import (clip_boxes, linspace, mask_logits_by_label, negative_index, paste_masks, roi_align_aligned,
                                  roi_levels_gather)

BUILTIN_REWRITES: list[Rewrite] = [linspace.REWRITE, roi_align_aligned.REWRITE, negative_index.REWRITE, paste_masks.REWRITE,
                                   roi_levels_gather.REWRITE, clip_boxes.REWRITE, mask_logits_by_label.REWRITE]


@hookimpl
def deploy_register_rewrites(register):
    for rewrite in BUILTIN_REWRITES:
        register(rewrite)


@hookimpl
def deploy_register_known_warnings(register):
    from deploybridge_rewrites.known_warnings import KNOWN_WARNINGS

    for known in KNOWN_WARNINGS:
        register(known)
