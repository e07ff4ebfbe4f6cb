"""``hub worker`` raises the collector's young-generation threshold (hub.pipeline.shell.app.tune_gc)
and leaves the collector on and the older generations as they were."""

from __future__ import annotations

import gc

from hub.pipeline.shell.app import GC_GEN0_THRESHOLD, tune_gc


def test_tune_gc_raises_only_the_young_generation_threshold() -> None:
    before = gc.get_threshold()
    try:
        assert tune_gc() == (GC_GEN0_THRESHOLD, before[1], before[2])
        assert gc.get_threshold()[0] == GC_GEN0_THRESHOLD > 700  # Python's default
        assert gc.isenabled()
        assert tune_gc(0)[0] == 1  # never 0 (that would disable automatic collection)
    finally:
        gc.set_threshold(*before)

