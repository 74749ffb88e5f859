"""A local batch job without --runner goes straight to the FnApiRunner."""

from __future__ import annotations

from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.portability.fn_api_runner.fn_runner import FnApiRunner

from pipeline.runner import default_runner


def test_a_batch_job_without_a_runner_gets_the_fn_api_runner_with_its_options():
    options = PipelineOptions(["--direct_num_workers=2", "--direct_running_mode=multi_processing"])
    runner = default_runner(options, streaming=False)
    assert isinstance(runner, FnApiRunner)
    # the workers see the job's options, as under DirectRunner
    sent = runner._provision_info.provision_info.pipeline_options
    assert int(sent["beam:option:direct_num_workers:v1"]) == 2
    assert sent["beam:option:direct_running_mode:v1"] == "multi_processing"


def test_a_named_runner_is_left_to_beam():
    for name in ("DirectRunner", "DataflowRunner", "FnApiRunner"):
        assert default_runner(PipelineOptions([f"--runner={name}"]), streaming=False) is None


def test_a_streaming_job_is_left_to_beam():
    assert default_runner(PipelineOptions([]), streaming=True) is None
