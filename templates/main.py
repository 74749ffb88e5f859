"""Dataflow Flex Template launcher: parse the options, build the job, submit it.

The launcher VM runs this file (FLEX_TEMPLATE_PYTHON_PY_FILE) with the
template's parameters as ``--name=value`` plus Dataflow's own options
(--runner, --project, --region, --staging_location, --temp_location,
--template_location, ...). It only checks the options; the job is built by
``pipeline.build.build_pipeline`` like every other way of running it, and
``pipeline.run()`` hands the job graph to Dataflow without waiting for it.

The ``pipeline`` and ``transforms`` packages are installed in the image
(``pip install .`` in templates/Dockerfile), which is also the workers' SDK
container image (``sdk_container_image``), so workers import the same code.
"""

from __future__ import annotations

import logging
import sys

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.build import build_pipeline
from pipeline.options import OptionsError, job_config, unknown_flags
from pipeline.preflight import check_credentials


def launch(argv: list[str]) -> beam.runners.runner.PipelineResult:
    """Checks `argv`, builds the job and submits it (raises OptionsError).

    `--api_key_file=projects/P/secrets/S/versions/V` names a Secret Manager
    version: the launcher reads it for the credentials check and each worker
    reads it in setup(), so the key is never an option nor in the job graph
    (pipeline/secrets.py).
    """
    unknown = unknown_flags(argv)
    if unknown:
        raise OptionsError(f"unknown option {', '.join(unknown)}")
    options = PipelineOptions(argv)
    config = job_config(options)
    if config.check_credentials:
        check_credentials(config.settings)
    pipeline = beam.Pipeline(options=options)
    build_pipeline(pipeline, config)
    return pipeline.run()


if __name__ == "__main__":
    logging.getLogger().setLevel(logging.INFO)
    try:
        launch(sys.argv[1:])
    except OptionsError as err:
        logging.error("cio-pipeline: %s", err)
        sys.exit(2)
