"""Which Beam runner a job gets when the command line names none.

Beam's DirectRunner first tries the Prism runner: it downloads Prism's
binary from GitHub (on a machine without network the download fails) and
starts a worker pool for it, then falls back to the Python FnApiRunner for a
batch pipeline like ours. That attempt adds to every local job's start-up,
and on a machine with network it runs the job on a different runner than
the one the tests cover.

So a local batch job without --runner goes straight to the FnApiRunner,
built the way DirectRunner builds it (its --direct_num_workers and
--direct_running_mode work as with DirectRunner). Streaming jobs, and any
job that names a runner (--runner=DirectRunner included), are left to Beam.

Its worker subprocesses (--direct_running_mode=multi_processing) ignore
SIGINT: Ctrl-C in a terminal reaches the whole process group, and a worker
killed by it takes the job down with tracebacks and can leave the runner
waiting for ever. The main process stops the job instead (pipeline/stopping.py).
"""

from __future__ import annotations

from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.runners.runner import PipelineRunner

# Runners that run the job in this machine's processes, with a GroupByKey
# that holds its input in memory (no --runner: the FnApiRunner, see below);
# named as Beam matches --runner: case-insensitive, "Runner" optional.
LOCAL_RUNNERS = frozenset({"direct", "switchingdirect", "bundlebaseddirect", "fnapi"})


def is_local_runner(options: PipelineOptions) -> bool:
    """Whether the job runs on this machine (no --runner, or a local one)."""
    runner = options.view_as(StandardOptions).runner
    if runner is None:
        return True
    name = runner if isinstance(runner, str) else type(runner).__name__
    return name.rsplit(".", 1)[-1].lower().removesuffix("runner") in LOCAL_RUNNERS


def _workers_ignore_sigint(pipeline_proto) -> None:
    """Makes the worker subprocesses of `pipeline_proto` start with SIGINT ignored.

    Beam starts them with ``sh -c <command>``; an ignored signal stays
    ignored through exec, and Python then installs no KeyboardInterrupt.
    """
    from apache_beam.portability import python_urns

    for environment in pipeline_proto.components.environments.values():
        if environment.urn == python_urns.SUBPROCESS_SDK:
            command = environment.payload.decode("utf-8")
            if not command.startswith("trap "):
                environment.payload = ("trap '' INT; exec " + command).encode("utf-8")


def default_runner(options: PipelineOptions, streaming: bool) -> PipelineRunner | None:
    """The FnApiRunner for a batch job that names no runner; None to let Beam choose."""
    if streaming or options.view_as(StandardOptions).runner is not None:
        return None
    # As DirectRunner does before it falls back to the FnApiRunner
    # (apache_beam/runners/direct/direct_runner.py): the workers get the
    # job's options through the provision info.
    from apache_beam.portability.api import beam_provision_api_pb2
    from apache_beam.runners.portability.fn_api_runner import fn_runner
    from apache_beam.runners.portability.portable_runner import JobServiceHandle

    class FnApiRunner(fn_runner.FnApiRunner):
        def run_via_runner_api(self, pipeline_proto, options):
            _workers_ignore_sigint(pipeline_proto)
            return super().run_via_runner_api(pipeline_proto, options)

    encoded = JobServiceHandle.encode_pipeline_options(options.get_all_options())
    info = fn_runner.ExtendedProvisionInfo(beam_provision_api_pb2.ProvisionInfo(pipeline_options=encoded))
    return FnApiRunner(provision_info=info)
