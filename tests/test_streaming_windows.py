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
