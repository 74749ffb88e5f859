"""The worker's young-generation GC threshold is raised, never lowered; the heap is frozen at exit."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.gc_tuning import YOUNG_THRESHOLD, tune_garbage_collector

ROOT = Path(__file__).resolve().parent.parent


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


def _exit_report(setup_code: str) -> str:
    """Runs `setup_code` in a fresh interpreter; what an exit hook registered first then saw."""
    code = (
        "import atexit, gc\n"
        "atexit.register(lambda: print('frozen' if gc.get_freeze_count() else 'not frozen', flush=True))\n"
        + setup_code
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=str(ROOT))
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.subprocess
def test_the_heap_is_frozen_only_when_the_process_exits():
    report = _exit_report(
        "import gc\n"
        "from pipeline.gc_tuning import freeze_heap_at_exit\n"
        "freeze_heap_at_exit(); freeze_heap_at_exit()\n"
        "assert gc.get_freeze_count() == 0\n"  # nothing frozen while the process runs
    )
    assert report == "frozen"


@pytest.mark.subprocess
def test_without_the_hook_the_heap_is_not_frozen():
    assert _exit_report("import pipeline.gc_tuning\n") == "not frozen"


@pytest.mark.subprocess
def test_the_mapping_steps_freeze_their_worker_at_exit():
    report = _exit_report(
        "from pipeline.routing import MapEvents\n"
        "from transforms import load_settings\n"
        "MapEvents('track', load_settings(site_id='s', api_key='k')).setup()\n"
    )
    assert report == "frozen"
