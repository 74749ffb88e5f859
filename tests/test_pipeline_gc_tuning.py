"""The worker's young-generation GC threshold is raised, never lowered."""

from __future__ import annotations

import gc

import pytest

from pipeline.gc_tuning import YOUNG_THRESHOLD, tune_garbage_collector


@pytest.fixture
def thresholds():
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)


def test_raises_the_young_threshold_and_keeps_the_others(thresholds):
    gc.set_threshold(700, 7, 9)
    tune_garbage_collector()
    assert gc.get_threshold() == (YOUNG_THRESHOLD, 7, 9)


def test_never_lowers_a_higher_threshold(thresholds):
    gc.set_threshold(YOUNG_THRESHOLD * 2, 10, 10)
    tune_garbage_collector()
    assert gc.get_threshold() == (YOUNG_THRESHOLD * 2, 10, 10)


def test_the_mapping_steps_tune_their_worker(thresholds):
    from pipeline.routing import MapEvents
    from transforms import load_settings
    gc.set_threshold(700, 10, 10)
    MapEvents("track", load_settings(site_id="s", api_key="k")).setup()
    assert gc.get_threshold()[0] == YOUNG_THRESHOLD
