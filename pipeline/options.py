"""Command-line options of the job, as Beam PipelineOptions.

Every flag is a Beam option in Beam's snake_case, so the same command line
works on DirectRunner and on Dataflow (and in a Flex Template). This module
only declares the flags and turns them into checked settings; building the
pipeline is `pipeline.build`'s job.
"""

from __future__ import annotations

import dataclasses
import os
import uuid
from dataclasses import dataclass

from apache_beam.options.pipeline_options import (
    DirectOptions,
    GoogleCloudOptions,
    _BeamArgumentParser,
    PipelineOptions,
    StandardOptions,
    WorkerOptions,
)

from pipeline import resume, secrets
from pipeline.input_files import InputError, input_pattern
from pipeline.runner import is_local_runner
from pipeline.secrets import is_secret_version
from pipeline.spill import default_base_directory
from transforms import ColumnMapping, Settings, SettingsError, load_settings


# A batch job waits this long for Customer.io to come back before it stops.
DEFAULT_OUTAGE_LIMIT_SECONDS = 300.0


class OptionsError(ValueError):
    """Bad command-line settings; ``str(err)`` is one line for the user."""


class CustomerIoOptions(PipelineOptions):
    """The flags of this pipeline (``cio-pipeline --help`` lists them)."""

    @classmethod
    def _add_argparse_args(cls, parser):
        add_customerio_arguments(parser)


def _switch(value: str) -> bool:
    """The value of a switch given as --name=value: true/false, yes/no, 1/0."""
    lowered = str(value).strip().lower()
    if lowered in ("true", "yes", "1"):
        return True
    if lowered in ("false", "no", "0"):
        return False
    raise ValueError(f"not true or false: {value!r}")


def _negated_switch(value: str) -> bool:
    return not _switch(value)


def add_customerio_arguments(parser) -> None:
    """Declares our flags on an argparse-style parser (Beam's or a plain one).

    Grouped for --help in the order a user needs them; a flag's default is
    added to its help by the help formatter (pipeline/main.py) unless the
    help says it in words. Choices are shown as the metavar but checked by
    `transforms.load_settings` (case-insensitive, one line naming the flag),
    not by argparse, so that Beam's own parsing never exits the process.
    """
    io = parser.add_argument_group("input")
    cio = parser.add_argument_group("Customer.io")
    rate = parser.add_argument_group("delivery")
    out = parser.add_argument_group("output")
    wh = parser.add_argument_group("warehouse exports (reverse ETL)")

    io.add_argument("--input", default=None, metavar="FILES",
                    help="files to read, JSON lines or --input_format csv/parquet: a file, a folder (every file in "
                         "it; gs://bucket/folder/ with its slash) or a glob on any Beam filesystem "
                         "(.gz/.bz2/.zst by extension): a batch job")
    io.add_argument("--subscription", default=None, metavar="SUBSCRIPTION",
                    help="Pub/Sub subscription projects/P/subscriptions/S to read events from: a streaming job")
    io.add_argument("--topic", default=None, metavar="TOPIC",
                    help="Pub/Sub topic projects/P/topics/T to read from (a temporary subscription is made): a streaming job")
    io.add_argument("--timestamp_attribute", default=None, metavar="ATTRIBUTE",
                    help="Pub/Sub message attribute holding the event time (RFC 3339 or epoch ms)")
    out.add_argument("--dead_letter", default=None, metavar="PREFIX",
                     help="path prefix of the dead-letter JSON-lines files: each run writes PREFIX-<run id>-*.jsonl "
                          "(default prefix out/dead_letter/events)")
    out.add_argument("--dead_letter_topic", default=None, metavar="TOPIC",
                     help="Pub/Sub topic projects/P/topics/T to publish dead-letter records to, instead of files")
    out.add_argument("--dry_run_output", default=None, metavar="PREFIX",
                     help="write each request as a JSON line {method,url,json} to PREFIX-single-*.jsonl and "
                          "PREFIX-batched-*.jsonl instead of sending it (needs no credentials)")
    out.add_argument("--progress", default=None, metavar="FOLDER",
                     help="batch: folder of the progress record that a job started again with the same flags "
                          "resumes from (default: <dead-letter folder>/progress/<hash of the job's flags>)")
    out.add_argument("--restart", nargs="?", const=True, default=False, type=_switch,
                     help="batch: send everything again, ignoring the progress record (it is kept, not deleted)")
    cio.add_argument("--endpoint", default=None, metavar="URL",
                     help="send every request to this base URL instead of Customer.io (e.g. the local cio-sandbox)")

    cio.add_argument("--site_id", default=None,
                     help="Customer.io site id (default: environment variable CIO_SITE_ID)")
    cio.add_argument("--api_key", default=None,
                     help="Customer.io Track API key (default: environment variable CIO_API_KEY, or --api_key_file)")
    cio.add_argument("--api_key_file", default=None, metavar="FILE",
                     help="read the Track API key from this file (first line), or from a Secret Manager "
                          "version projects/P/secrets/S/versions/V (read by each worker)")
    cio.add_argument("--datacenter", default="US", metavar="{US,EU}",
                     help="Customer.io data center: US (track.customer.io) or EU (track-eu.customer.io)")
    cio.add_argument("--api_version", default="v1", metavar="{v1,v2}",
                     help="v1: per-type Track API calls (objects via /api/v2/batch); v2: everything via /api/v2/batch")
    cio.add_argument("--device_token_event", default=None, metavar="EVENT",
                     help="an extra event name that also registers the device in context.device.token")
    cio.add_argument("--record_object", default="person", metavar="{person,event}",
                     help="what warehouse record messages update: person or event")
    # Switches also take an explicit value (--no_dedup_ids=true): a Dataflow
    # Flex Template passes every parameter as --name=value. --help shows
    # them without a value (pipeline/main.py).
    cio.add_argument("--skip_credentials_check", nargs="?", const=True, default=False, type=_switch,
                     help="do not check the credentials with Customer.io (GET /api/v1/accounts/region) at launch")
    cio.add_argument("--no_dedup_ids", dest="dedup_ids", nargs="?", const=False, default=True,
                     type=_negated_switch,
                     help="do not add deterministic dedup ids (ULIDs) to events")
    cio.add_argument("--convert_timestamps", nargs="?", const=True, default=False, type=_switch,
                     help="turn ISO-8601 date-time strings with a zone (2024-05-01T10:00:00Z, ...+02:00) in traits "
                          "and properties, at any depth, into whole Unix seconds; bare dates, zoneless times and "
                          "numbers stay as they are (docs/mapping.md, section 14)")

    wh.add_argument("--input_format", default="jsonl", metavar="{jsonl,csv,parquet}",
                    help="what --input holds: jsonl (events or record messages), or csv / parquet table exports (one record per row)")
    wh.add_argument("--id_column", default=None, metavar="COLUMN",
                    help="csv/parquet: the column holding the person's id (default id)")
    wh.add_argument("--email_column", default=None, metavar="COLUMN",
                    help="csv/parquet: the column holding the person's email (default email)")
    wh.add_argument("--cio_id_column", default=None, metavar="COLUMN",
                    help="csv/parquet: the column holding the Customer.io cio_id (default cio_id)")
    wh.add_argument("--event_name_column", default=None, metavar="COLUMN",
                    help="csv/parquet with --record_object event: the column holding the event name (default name)")
    wh.add_argument("--timestamp_column", default=None, metavar="COLUMN",
                    help="csv/parquet: the column holding the row's time, ISO-8601 or epoch (default created_at)")
    wh.add_argument("--action_column", default=None, metavar="COLUMN",
                    help="csv/parquet: the column saying insert, update or delete per row (default: every row is an insert)")
    wh.add_argument("--audience_id", default=None, metavar="SEGMENT_ID",
                    help="sync records to this manual segment (its numeric id): inserts/updates add people, deletes remove them")
    wh.add_argument("--id_type", default="id", metavar="{id,email,cio_id}",
                    help="with --audience_id: which identifier the segment calls use: id, email or cio_id")

    add_sync_arguments(wh)

    rate.add_argument("--rate_limit", type=float, default=100.0, metavar="PER_SECOND",
                      help="requests per second for the whole job (default 100: Customer.io's fair-use limit "
                           "for the Track API, per workspace, v1 and v2 together, backfills included; raise it "
                           "only to a limit agreed with Customer.io, and leave room for anything else sending "
                           "to the same workspace)")
    rate.add_argument("--rate_limit_shares", type=int, default=0, metavar="N",
                      help="how many processes share --rate_limit (default: from --max_num_workers/--num_workers/--direct_num_workers)")
    rate.add_argument("--max_retries", type=int, default=6, metavar="N",
                      help="retries of a request answered 408, 429, 5xx, timed out or dropped, before it is dead-lettered")
    rate.add_argument("--request_timeout", type=float, default=10.0, metavar="SECONDS",
                      help="seconds to wait for Customer.io to answer one request")
    rate.add_argument("--backoff_seconds", type=float, default=0.5, metavar="SECONDS",
                      help="first retry delay; it doubles on each retry (with jitter) up to --max_backoff_seconds")
    rate.add_argument("--max_backoff_seconds", type=float, default=30.0, metavar="SECONDS",
                      help="longest delay between two retries")
    rate.add_argument("--max_in_flight", type=int, default=512, metavar="N",
                      help="most requests in flight per worker process (default 512); within it the number "
                           "follows the process's rate x the measured round trip, so it needs no tuning; one "
                           "person's requests are never concurrent")
    rate.add_argument("--window_seconds", type=float, default=5.0, metavar="SECONDS",
                      help="streaming: fixed window that object/v2 items are batched in, and the longest wait before a send")
    rate.add_argument("--batch_shards", type=int, default=8, metavar="N",
                      help="keys that v2 batch items are spread over, so batches are sent in parallel")

    # Outages and stops (pipeline/outage.py, pipeline/stopping.py).
    rate.add_argument("--outage_limit_seconds", type=float, default=DEFAULT_OUTAGE_LIMIT_SECONDS, metavar="SECONDS",
                      help="batch: stop the job (exit status 4) when Customer.io stays down or unreachable this "
                           "long; the events not sent are left undone, not dead-lettered (streaming jobs wait)")


def add_sync_arguments(group) -> None:
    """The incremental-sync flags (pipeline/sync.py), on a parser or an argument group."""
    group.add_argument("--sync_state", default=None, metavar="FOLDER",
                       help="batch: folder (any Beam filesystem) of the state of this table's last sync: only new and "
                            "changed rows are sent, and the state is updated when the job ends")
    group.add_argument("--sync_deletes", nargs="?", const=True, default=False, type=_switch,
                       help="with --sync_state: a person gone from the export is deleted (with --audience_id: removed "
                            "from the segment)")


def is_switch(action) -> bool:
    """Whether an argparse action is one of our switches (a flag that may also be given =true/=false)."""
    return action.type in (_switch, _negated_switch)


def _sync_config(opts, settings, streaming: bool, problems: list[str]):
    """--sync_state checked at launch: the previous state (pipeline.sync.PreviousState) or None."""
    from pipeline import sync  # the Beam wiring of the sync; imported here to keep this module's imports light

    if opts.sync_deletes and not opts.sync_state:
        problems.append("--sync_deletes needs --sync_state")
    if not opts.sync_state:
        return None
    if streaming:
        problems.append("--sync_state applies to batch jobs (--input)")
        return None
    if settings is None:
        return None
    try:
        return sync.open_state(opts.sync_state, settings)
    except sync.SyncStateError as err:
        problems.append(str(err))
        return None


@dataclass(frozen=True)
class JobConfig:
    """The checked configuration the pipeline is built from (no Beam types)."""

    settings: Settings
    input: str | None
    subscription: str | None
    topic: str | None
    timestamp_attribute: str | None
    streaming: bool
    dead_letter: str | None
    dead_letter_topic: str | None
    dry_run_output: str | None
    check_credentials: bool
    api_key_secret: str | None
    rate_limit: float
    rate_limit_shares: int
    max_retries: int
    request_timeout: float
    backoff_seconds: float
    max_backoff_seconds: float
    max_in_flight: int
    window_seconds: float
    batch_shards: int

    job_id: str = ""
    # None: a streaming job waits out an outage however long it lasts.
    outage_limit_seconds: float | None = DEFAULT_OUTAGE_LIMIT_SECONDS
    input_format: str = "jsonl"
    columns: ColumnMapping = ColumnMapping()
    # This run's name in its output files: a UTC time stamp and a random part.
    run_id: str = "run"
    # Batch jobs that send: the progress record's folder (pipeline/resume.py).
    progress_dir: str | None = None
    restart: bool = False
    # A batch job on the local runner: the directory under which v1 requests
    # are put in order per person through files (pipeline/spill.py) rather
    # than in memory. None: the runner's GroupByKey does it (Dataflow's is
    # disk-backed; streaming groups per window).
    spill_base: str | None = None
    # --sync_state: the state this run starts from (pipeline/sync.py), and --sync_deletes.
    sync_previous: object = None
    sync_deletes: bool = False

    @property
    def per_process_rate(self) -> float:
        """This process's share of the job-wide request budget."""
        return self.rate_limit / max(1, self.rate_limit_shares)


DEFAULT_DEAD_LETTER = "out/dead_letter/events"
# The site id and key of a dry run given none (it sends nothing).
DRY_RUN_CREDENTIAL = "dry-run"


def _rate_limit_shares(options: PipelineOptions, explicit: int) -> int:
    """How many processes send at once: the job's budget is split between them.

    On Dataflow each worker runs its own copy of the delivery DoFn, so the
    budget is divided by --max_num_workers (or --num_workers); locally by
    --direct_num_workers in multi-processing mode. --rate_limit_shares wins.
    """
    if explicit > 0:
        return explicit
    worker = options.view_as(WorkerOptions)
    for n in (worker.max_num_workers, worker.num_workers):
        if n:
            return int(n)
    direct = options.view_as(DirectOptions)
    if direct.direct_running_mode == "multi_processing" and direct.direct_num_workers > 1:
        return int(direct.direct_num_workers)
    return 1


def _spill_base(options: PipelineOptions, streaming: bool) -> str | None:
    """Where a local batch job spills (see JobConfig.spill_base): a local
    --temp_location, else spill.default_base_directory()."""
    if streaming or not is_local_runner(options):
        return None
    temp_location = options.view_as(GoogleCloudOptions).temp_location
    if temp_location and "://" not in temp_location:
        return temp_location
    return default_base_directory()


def _read_api_key(opts: CustomerIoOptions) -> str | None:
    if opts.api_key:
        return opts.api_key
    if is_secret_version(opts.api_key_file):
        try:
            return secrets.read_secret(opts.api_key_file)
        except Exception as err:  # any client or permission error: one line, no trace
            raise OptionsError(
                f"cannot read the API key from Secret Manager ({opts.api_key_file}): {type(err).__name__}"
            ) from None
    if opts.api_key_file:
        try:
            with open(opts.api_key_file, encoding="utf-8") as handle:
                return handle.readline().strip()
        except OSError as err:
            raise OptionsError(f"cannot read --api_key_file: {err.strerror}") from None
    return os.environ.get("CIO_API_KEY")


class _OneLineErrorParser(_BeamArgumentParser):
    """Beam's option parser, raising OptionsError for a bad value instead of
    printing the usage of every Beam option (~160 lines) and exiting."""

    def error(self, message):
        raise OptionsError(f"{message} (see --help)")


def unknown_flags(argv: list[str]) -> list[str]:
    """Flags that no PipelineOptions class knows (Beam itself only warns).

    Mirrors PipelineOptions.get_all_options, which uses the same private
    parser class; a typo such as --rate_limt must not pass unnoticed. A
    value that does not parse (--rate_limit abc) raises OptionsError here,
    naming the flag, before Beam parses the options itself.
    """
    parser = _OneLineErrorParser(allow_abbrev=False)
    seen = {}
    for cls in PipelineOptions.__subclasses__():
        seen.setdefault(str(cls), cls)
    for cls in seen.values():
        cls._add_argparse_args(parser)  # pylint: disable=protected-access
    _, unknown = parser.parse_known_args(argv)
    return [arg.split("=", 1)[0] for arg in unknown if arg.startswith("-")]


_COLUMN_FLAGS = ("id_column", "email_column", "cio_id_column", "event_name_column",
                 "timestamp_column", "action_column")


def _warehouse_columns(opts: CustomerIoOptions, problems: list[str]) -> ColumnMapping:
    """The column mapping of --input_format csv/parquet; appends what is wrong to ``problems``."""
    input_format = (opts.input_format or "jsonl").strip().lower()
    given = {name: getattr(opts, name) for name in _COLUMN_FLAGS if getattr(opts, name) is not None}
    if input_format not in ("jsonl", "csv", "parquet"):
        problems.append(f"--input_format must be jsonl, csv or parquet (got {opts.input_format!r})")
    elif input_format != "jsonl" and not opts.input:
        problems.append(f"--input_format {input_format} reads files: give --input")
    elif input_format == "jsonl" and given:
        flags = ", ".join(f"--{name}" for name in given)
        problems.append(f"{flags} only apply to --input_format csv or parquet")
    for name, value in given.items():
        if not value.strip():
            problems.append(f"--{name} must not be empty")
    given = {name: value.strip() for name, value in given.items() if value.strip()}
    columns = ColumnMapping(**given)
    named = columns.columns()
    for name in sorted({c for c in named if named.count(c) > 1}):
        problems.append(f"column {name!r} is mapped twice (check the --*_column flags and their defaults)")
    if opts.audience_id not in (None, "") and (opts.record_object or "").strip().lower() == "event":
        problems.append("--audience_id syncs records to a segment: do not combine it with --record_object event")
    return columns


def job_config(options: PipelineOptions) -> JobConfig:
    """Checks the options and returns the job's configuration.

    Raises OptionsError with one clear line. The API key is taken out of the
    options afterwards so that it is not carried in the job's option list.
    """
    opts = options.view_as(CustomerIoOptions)
    problems = []
    sources = [name for name in ("input", "subscription", "topic") if getattr(opts, name)]
    if not sources:
        problems.append("one of --input, --subscription or --topic is required")
    elif len(sources) > 1:
        problems.append("give only one of --input, --subscription, --topic")
    if (opts.progress or opts.restart) and not opts.input:
        problems.append("--progress and --restart apply to batch jobs (--input): Pub/Sub keeps a streaming job's place")
    if opts.dead_letter and opts.dead_letter_topic:
        problems.append("give only one of --dead_letter, --dead_letter_topic")
    for name in ("rate_limit", "request_timeout", "window_seconds", "outage_limit_seconds"):
        if getattr(opts, name) <= 0:
            problems.append(f"--{name} must be greater than 0")
    for name in ("max_retries", "backoff_seconds", "max_backoff_seconds"):
        if getattr(opts, name) < 0:
            problems.append(f"--{name} must not be negative")
    for name in ("max_in_flight", "batch_shards"):
        if getattr(opts, name) < 1:
            problems.append(f"--{name} must be at least 1")

    columns = _warehouse_columns(opts, problems)
    input_files = None
    if opts.input:
        try:
            input_files = input_pattern(opts.input)
        except InputError as err:
            problems.append(str(err))

    site_id, api_key = opts.site_id or os.environ.get("CIO_SITE_ID"), _read_api_key(opts)
    if opts.dry_run_output:
        # A dry run sends nothing and writes no header, so it needs no
        # credentials: stand-ins fill the settings' required fields.
        site_id, api_key = site_id or DRY_RUN_CREDENTIAL, api_key or DRY_RUN_CREDENTIAL
    settings = None
    try:
        settings = load_settings(
            site_id=site_id,
            api_key=api_key,
            datacenter=opts.datacenter,
            api_version=opts.api_version,
            device_token_event=opts.device_token_event,
            record_object=opts.record_object,
            dedup_ids=opts.dedup_ids,
            convert_timestamps=opts.convert_timestamps,
            endpoint=opts.endpoint,
            audience_id=opts.audience_id,
            id_type=opts.id_type,
        )
    except SettingsError as err:
        problems.append(str(err).removeprefix("invalid settings: "))
    sync_previous = _sync_config(opts, settings, bool(opts.subscription or opts.topic), problems)
    if problems:
        raise OptionsError("invalid settings: " + "; ".join(problems))

    # Keep the key out of the options that runners log and show in job UIs.
    opts.api_key = None
    streaming = bool(opts.subscription or opts.topic)
    if streaming:
        options.view_as(StandardOptions).streaming = True
    config = JobConfig(
        settings=settings,
        input=input_files,
        subscription=opts.subscription,
        topic=opts.topic,
        timestamp_attribute=opts.timestamp_attribute,
        streaming=streaming,
        dead_letter=None if opts.dead_letter_topic else (opts.dead_letter or DEFAULT_DEAD_LETTER),
        dead_letter_topic=opts.dead_letter_topic,
        dry_run_output=opts.dry_run_output,
        check_credentials=not (opts.skip_credentials_check or opts.dry_run_output),
        api_key_secret=opts.api_key_file if is_secret_version(opts.api_key_file) else None,
        rate_limit=opts.rate_limit,
        rate_limit_shares=_rate_limit_shares(options, opts.rate_limit_shares),
        max_retries=opts.max_retries,
        request_timeout=opts.request_timeout,
        backoff_seconds=opts.backoff_seconds,
        max_backoff_seconds=opts.max_backoff_seconds,
        max_in_flight=opts.max_in_flight,
        window_seconds=opts.window_seconds,
        batch_shards=opts.batch_shards,
        job_id=uuid.uuid4().hex,
        outage_limit_seconds=None if streaming else opts.outage_limit_seconds,
        input_format=(opts.input_format or "jsonl").strip().lower(),
        columns=columns,
        run_id=resume.new_run_id(),
        restart=bool(opts.restart),
        spill_base=_spill_base(options, streaming),
        sync_previous=sync_previous,
        sync_deletes=bool(opts.sync_deletes),
    )
    if not streaming and not opts.dry_run_output:
        progress_dir = opts.progress or resume.default_progress_dir(config.dead_letter, resume.job_identity(config))
        config = dataclasses.replace(config, progress_dir=progress_dir)
    return config
