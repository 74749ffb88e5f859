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
from pipeline.options import (
    CustomerIoOptions,
    OptionsError,
    add_customerio_arguments,
    job_config,
    unknown_flags,
)
from pipeline.summary import collect_counters, format_summary, summary_rows

LOG = logging.getLogger("cio-pipeline")

DESCRIPTION = """Delivers customer-data events (identify, track, page, screen, group, alias,
warehouse records) from JSON-lines files or Pub/Sub to Customer.io's Track API."""

EPILOG = """Every Beam pipeline option works too (--runner, --streaming, --project,
--region, --temp_location, --num_workers, --direct_num_workers, ...).
Exit status: 0 when the job ran (dead-lettered events included), 2 for bad settings."""


def print_help() -> None:
    parser = argparse.ArgumentParser(
        prog="cio-pipeline", description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_customerio_arguments(parser)
    parser.print_help()


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
    except OptionsError as err:
        print(f"cio-pipeline: {err}", file=sys.stderr)
        return 2
    options.view_as(CustomerIoOptions)  # registers our flags on the options

    started = time.monotonic()
    pipeline = beam.Pipeline(options=options)
    build_pipeline(pipeline, config)
    result = pipeline.run()
    result.wait_until_finish()
    if not config.streaming:
        elapsed = time.monotonic() - started
        print(format_summary(summary_rows(collect_counters(result), elapsed)))
    return 0


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("apache_beam", "urllib3", "google"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    sys.exit(run())
