"""Entry point of `cio-pipeline` / `python -m pipeline`: parse, build, run.

Thin on purpose (like Google's Flex Template launchers): it checks the
options, builds the pipeline with `pipeline.build`, runs it and, for a batch
job, prints the summary table.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.build import build_pipeline
from pipeline.gc_tuning import freeze_heap_at_exit
from pipeline.options import (
    OptionsError,
    add_customerio_arguments,
    job_config,
    unknown_flags,
)
from pipeline.preflight import check_credentials
from pipeline.runner import default_runner
from pipeline.sinks import dead_letter_files, removing_new_temp_folders
from pipeline.summary import collect_counters, format_summary, summary_rows

LOG = logging.getLogger("cio-pipeline")

DESCRIPTION = """Delivers customer-data events (identify, track, page, screen, group, alias,
warehouse records) from JSON-lines files or Pub/Sub to Customer.io's Track API."""

EPILOG = """Every Beam pipeline option works too (--runner, --streaming, --project,
--region, --temp_location, --num_workers, --direct_num_workers, ...).
Exit status: 0 when the job ran (dead-lettered events included), 2 for bad
settings or credentials, 3 when Customer.io refused the credentials mid-job."""


def print_help() -> None:
    parser = argparse.ArgumentParser(
        prog="cio-pipeline", description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
    options = PipelineOptions(argv)
    try:
        unknown = unknown_flags(argv)
        if unknown:
            raise OptionsError(f"unknown option {', '.join(unknown)} (see --help)")
        config = job_config(options)
        if config.check_credentials:
            check_credentials(config.settings)
    except OptionsError as err:
        print(f"cio-pipeline: {err}", file=sys.stderr)
        return 2

    for line in output_lines(config):
        LOG.info("%s", line)
    started = time.monotonic()
    freeze_heap_at_exit()
    pipeline = beam.Pipeline(runner=default_runner(options, config.streaming), options=options)
    try:
        build_pipeline(pipeline, config)
    except OSError as err:  # e.g. an --input glob that matches no file
        print(f"cio-pipeline: {err}", file=sys.stderr)
        return 2
    with removing_new_temp_folders(config):
        result = pipeline.run()
        result.wait_until_finish()
    if config.streaming:
        return 0
    counters = collect_counters(result)
    print(format_summary(summary_rows(counters, time.monotonic() - started)))
    print("\n".join(output_lines(config)))
    refused = counters.get(("cio", "unauthorized"), 0)
    if refused:
        print(f"cio-pipeline: Customer.io rejected the credentials (401) during the job; {refused} events "
              f"were dead-lettered without being sent: fix the key and feed the dead-letter files back with --input",
              file=sys.stderr)
        return 3
    return 0


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("apache_beam", "urllib3", "google"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    sys.exit(run())
