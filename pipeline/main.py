"""Entry point of `cio-pipeline` / `python -m pipeline`: parse, build, run.

Thin on purpose (like Google's Flex Template launchers): it checks the
options, builds the pipeline with `pipeline.build`, runs it and, for a batch
job, prints the summary table and picks the exit status (EXIT_* below).
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import sys
import tempfile
import time

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.build import build_pipeline
from pipeline.diagnosis import likely_cause
from pipeline.gc_tuning import freeze_heap_at_exit
from pipeline.options import (
    OptionsError,
    add_customerio_arguments,
    is_switch,
    job_config,
    unknown_flags,
)
from pipeline import local_stop, stopping
from pipeline.in_flight import wait_for_senders
from pipeline.preflight import check_credentials
from pipeline.runner import default_runner, is_local_runner
from pipeline.sinks import dead_letter_files, removing_new_temp_folders
from pipeline.summary import (
    IN_PROCESS_TALLY,
    collect_counters,
    format_summary,
    stopped_job_counts,
    stopped_summary_rows,
    summary_rows,
)

LOG = logging.getLogger("cio-pipeline")

DESCRIPTION = """Delivers customer-data events (identify, track, page, screen, group, alias,
warehouse records) from JSON-lines files or Pub/Sub to Customer.io's Track API."""

# Exit statuses; EPILOG and the README list them for users.
EXIT_OK = 0
EXIT_SETTINGS = 2
EXIT_CREDENTIALS_REFUSED = 3
EXIT_OUTAGE = 4
EXIT_NOTHING_DELIVERED = 5

EPILOG = """Every Beam pipeline option works too (--runner, --streaming, --project,
--region, --temp_location, --num_workers, --direct_num_workers, ...).

Exit status:
  0    the job ran: every event delivered or dead-lettered (bad events included)
  1    the job failed unexpectedly (the traceback says why)
  2    bad settings or credentials, or Customer.io unreachable at launch
  3    Customer.io refused the credentials (401) during the job
  4    stopped: Customer.io was down or unreachable longer than
       --outage_limit_seconds; the events not sent are left undone
  5    nothing delivered (a dry run: no request written) and something
       dead-lettered: every call to Customer.io failed, or every input
       was refused (not JSON, not events, no identifier: a line at the
       end names the likely cause)
  130  stopped by SIGINT (Ctrl-C); the events not sent are left undone
  143  stopped by SIGTERM; the events not sent are left undone
A first SIGINT/SIGTERM lets the calls in flight end; a second stops at once."""


USAGE = "cio-pipeline (--input FILES | --subscription SUBSCRIPTION | --topic TOPIC) [options]"


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """--help as a user reads it: every flag's default, switches without a value.

    A default is appended unless the help already says it in words or
    there is none (None, False); a switch (it also takes =true/=false for
    Flex Templates) is shown as the bare flag.
    """

    def _get_help_string(self, action):
        text = action.help or ""
        if action.default in (None, False, "", argparse.SUPPRESS) or is_switch(action) or "default" in text:
            return text
        return text + " (default: %(default)s)"

    def _format_action_invocation(self, action):
        if is_switch(action):
            return ", ".join(action.option_strings)
        return super()._format_action_invocation(action)


def print_help() -> None:
    """Our flags, grouped; Beam's own options are named in the epilog, not listed."""
    parser = argparse.ArgumentParser(
        prog="cio-pipeline", usage=USAGE, description=DESCRIPTION, epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    add_customerio_arguments(parser)
    parser.print_help()


def output_lines(config) -> list[str]:
    """Where this run's dead letters and progress record are (logged at the start, printed at the end)."""
    lines = [f"run id: {config.run_id}"]
    if config.dead_letter_topic:
        lines.append(f"dead letters: published to {config.dead_letter_topic}")
    else:
        lines.append(f"dead letters: {dead_letter_files(config.dead_letter, config.run_id)}")
    if config.progress_dir:
        note = " (--restart: the record of earlier runs is ignored)" if config.restart else ""
        lines.append(f"progress record: {config.progress_dir}{note}")
    return lines


def run(argv: list[str] | None = None) -> int:
    """Runs the job described by `argv`; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "-h" in argv or "--help" in argv:
        print_help()
        return 0
    try:
        unknown = unknown_flags(argv)
        if unknown:
            raise OptionsError(f"unknown option {', '.join(unknown)} (see --help)")
        options = PipelineOptions(argv)
        config = job_config(options)
        if config.check_credentials:
            check_credentials(config.settings, timeout=min(config.request_timeout, 10.0))
    except OptionsError as err:
        print(f"cio-pipeline: {err}", file=sys.stderr)
        return EXIT_SETTINGS

    for line in output_lines(config):
        LOG.info("%s", line)
    started = time.monotonic()
    freeze_heap_at_exit()
    pipeline = beam.Pipeline(runner=default_runner(options, config.streaming), options=options)
    try:
        build_pipeline(pipeline, config)
    except OSError as err:  # e.g. an --input glob that matches no file
        print(f"cio-pipeline: {err}", file=sys.stderr)
        return EXIT_SETTINGS
    with removing_new_temp_folders(config):
        if config.streaming:
            return _run_streaming(pipeline, is_local_runner(options))
        return _run_batch(pipeline, config, started)


def _say(line: str) -> None:
    print(f"cio-pipeline: {line}", file=sys.stderr, flush=True)


def _run_streaming(pipeline: beam.Pipeline, local: bool) -> int:
    """Runs a streaming job until it ends or is stopped; returns the exit status.

    A streaming job has no end of its own: a local one is stopped with
    Ctrl-C or SIGTERM, and first finishes what it has taken from the
    subscription (pipeline/local_stop.py). A job on Dataflow runs on
    without this process: Ctrl-C only stops waiting for it.
    """
    if local:
        return local_stop.run_until_stopped(pipeline, _say)
    try:
        pipeline.run().wait_until_finish()
    except KeyboardInterrupt:
        _say("stopped waiting; the job runs on in Dataflow: stop it with "
             "`gcloud dataflow jobs drain JOB_ID` (it finishes what it has pulled) or `... cancel JOB_ID`")
        return 128 + signal.SIGINT
    return EXIT_OK


def _run_batch(pipeline: beam.Pipeline, config, started: float) -> int:
    """Runs a batch job to its end or to a stop; prints the summary; returns the exit status."""
    stop_dir = tempfile.mkdtemp(prefix="cio-pipeline-stop-")
    stopping.reset(os.path.join(stop_dir, "stop"))
    IN_PROCESS_TALLY.reset()
    quiet = stopping.HideStopTracebacks()
    handlers = list(logging.getLogger().handlers)
    for handler in handlers:
        handler.addFilter(quiet)
    try:
        with stopping.SignalWatcher(_say):
            try:
                result = pipeline.run()
                result.wait_until_finish()
            except Exception:
                # The runner reports a stop as a failed bundle, wrapped in
                # its own exception (a RuntimeError naming StopRequested
                # from a worker process): what counts is that a stop was asked.
                request = stopping.stop_request(look_now=True)
                if request is None:
                    raise
                wait_for_senders()
                return _stopped(request, config, time.monotonic() - started)
    finally:
        for handler in handlers:
            handler.removeFilter(quiet)
        stopping.reset(None)
        shutil.rmtree(stop_dir, ignore_errors=True)
    counters = collect_counters(result)
    rows = summary_rows(counters, time.monotonic() - started, dry_run=bool(config.dry_run_output),
                        input_unit="lines" if config.input_format == "jsonl" else "rows",
                        rate_limit=config.rate_limit)
    print(format_summary(rows), flush=True)
    print("\n".join(output_lines(config)), flush=True)
    return _finished(counters, config)


def _stopped(request: stopping.StopRequest, config, elapsed: float) -> int:
    """The summary and the one line of a job stopped before its end; returns the exit status."""
    counts = stopped_job_counts(config)
    why = request.signal_name or request.reason
    print(format_summary(stopped_summary_rows(counts, elapsed, why)), flush=True)
    print("\n".join(output_lines(config)), flush=True)
    done = (f"{counts['delivered']} events delivered, {counts['dead_lettered']} dead-lettered when sending; "
            f"every other event is left undone (not sent, not dead-lettered)")
    if request.reason == stopping.OUTAGE:
        _say(f"stopped: {request.message}; {done}: run the job again once Customer.io answers")
        return EXIT_OUTAGE
    _say(f"stopped by {why}: {done}")
    return 128 + (request.signum or 0)


def _finished(counters: dict, config) -> int:
    """The one line and exit status of a batch job that ran to its end."""
    refused = counters.get(("cio", "unauthorized"), 0)
    if refused:
        _say(f"Customer.io rejected the credentials (401) during the job; {refused} events "
             f"were dead-lettered without being sent: fix the key and feed the dead-letter files back with --input")
        return EXIT_CREDENTIALS_REFUSED
    delivered = counters.get(("cio", "events_delivered"), 0)
    failed = counters.get(("cio.dead_letter", "deliver"), 0)
    if failed and not delivered:
        _say(f"nothing was delivered: every call to Customer.io failed ({failed} events dead-lettered with "
             f"Customer.io's answers; see the dead-letter files and feed them back with --input)")
        return EXIT_NOTHING_DELIVERED
    dead = sum(n for (namespace, _), n in counters.items() if namespace == "cio.dead_letter")
    cause = likely_cause(counters, config)
    if cause:
        _say(f"likely cause: {cause}")
    written = counters.get(("cio.dry_run", "requests_written"), 0)
    done_before = counters.get(("cio", "skipped_done"), 0)
    if dead and not (delivered or written or done_before):
        _say(f"nothing was delivered{' (dry run: no request written)' if config.dry_run_output else ''}: "
             f"{dead} dead-lettered (see the reasons above and the dead-letter files)")
        return EXIT_NOTHING_DELIVERED
    if config.dry_run_output:
        events = counters.get(("cio.dry_run", "events_written"), 0)
        print(f"cio-pipeline: finished (dry run, nothing sent): {written} requests written for {events} events "
              f"to {config.dry_run_output}-*.jsonl, {dead} dead-lettered", flush=True)
    else:
        print(f"cio-pipeline: finished: {delivered} events delivered, {dead} dead-lettered", flush=True)
    return EXIT_OK


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("apache_beam", "urllib3", "google"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    sys.exit(run())
