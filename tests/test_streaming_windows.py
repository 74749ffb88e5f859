"""Which panes a streaming job fires: by arrival on the local DirectRunner, timed elsewhere.

On DirectRunner a pane that waits for a timer or the watermark waits out
Beam's 30 s Pub/Sub pull (see pipeline.sources.fires_on_arrival); the
figures are measured by `python -m bench.streaming` (docs/streaming.md).
"""

from types import SimpleNamespace

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.transforms import trigger

from pipeline.sources import delivery_windows, fires_on_arrival


def early_trigger(windowing: beam.WindowInto):
    return windowing.get_windowing(None).triggerfn.early.underlying  # AfterWatermark repeats its early trigger


def test_a_local_streaming_job_fires_its_panes_as_messages_arrive():
    local = beam.Pipeline(options=PipelineOptions(["--streaming"]))
    assert fires_on_arrival(local)
    assert isinstance(early_trigger(delivery_windows(5, fires_on_arrival(local))), trigger.AfterCount)


def test_a_dataflow_job_keeps_the_timed_panes_that_batch_many_pulls():
    from apache_beam.runners.dataflow.dataflow_runner import DataflowRunner

    # only the runner is read; a Dataflow pipeline object would check its bucket over the network
    dataflow = SimpleNamespace(runner=DataflowRunner())
    assert not fires_on_arrival(dataflow)
    early = early_trigger(delivery_windows(5, fires_on_arrival(dataflow)))
    assert isinstance(early, trigger.AfterProcessingTime) and early.delay == 5


def test_a_streaming_job_merges_its_dead_letters_without_windowing_warnings(caplog):
    """Beam warns "All input pcollections must have the same window" when a Flatten
    gets differently windowed inputs: the dead letters coming out of a GroupByKey
    carry its continuation trigger, and Beam compares AfterProcessingTime triggers
    by identity. Each stage's are windowed by one WindowInto first (pipeline/build.py),
    on the local runner (panes by arrival) and elsewhere (timed); the same warning
    from the Flatten inside Beam's fileio.WriteToFiles is filtered (pipeline/sinks.py)."""
    import logging

    from apache_beam.runners.portability.fn_api_runner import FnApiRunner

    from pipeline.build import build_pipeline
    from pipeline.options import job_config

    for api_version in ("v1", "v2"):
        options = PipelineOptions(["--subscription", "projects/cio-test/subscriptions/events", "--site_id", "s",
                                   "--api_key", "k", "--api_version", api_version])
        config = job_config(options)
        for runner in (None, FnApiRunner()):  # None: DirectRunner, panes by arrival; else timed panes
            with caplog.at_level(logging.WARNING):
                build_pipeline(beam.Pipeline(runner=runner, options=options), config)
    assert not [r for r in caplog.records if "must have the same window" in r.getMessage()]
