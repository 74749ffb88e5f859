"""The job as Dataflow would get it, translated offline.

DataflowRunner with --dry_run=True does everything up to the submission
(options validation, runner-API translation, Dataflow's job description)
and returns the job instead of sending it (dataflow_runner.py, run_pipeline:
``if test_options.dry_run: ... result.job = self.job``). No credentials and
no network are needed provided that:

- --project, --temp_location's bucket and Pub/Sub names are *valid* names
  (an invalid bucket such as gs://b makes Beam try to create a default
  bucket over the network, and hang without credentials);
- gs:// inputs are not matched at build time (pipeline/sources.py reads
  remote globs with validate=False);
- the experiment disable_logging_submission_environment skips a
  `pip freeze` subprocess that Beam runs to stage the list of installed
  packages (0.8 s per job; nothing else changes).
"""

from __future__ import annotations

import functools
import logging
import zlib
from collections import Counter

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.portability import common_urns

from pipeline.batching import shard_of
from pipeline.build import build_pipeline
from pipeline.options import job_config
from pipeline.ordering import person_key
from tests.pipeline_helpers import wire
from transforms import EVENT_TYPES

PROJECT = "example-project"
SECRET = "sk-dataflow-graph-test-91c3"
DATAFLOW = [
    "--runner=DataflowRunner", "--dry_run=True", f"--project={PROJECT}", "--region=us-central1",
    "--temp_location=gs://example-bucket/tmp", "--max_num_workers=10",
    "--experiments=disable_logging_submission_environment",
    "--site_id=site", f"--api_key={SECRET}",
]
SOURCES = {
    "batch": ["--input=gs://example-bucket/events/*.jsonl"],
    "streaming": [f"--subscription=projects/{PROJECT}/subscriptions/cio-events"],
}
DEAD_LETTERS = {
    "files": ["--dead_letter=gs://example-bucket/cio/dead/events"],
    "topic": [f"--dead_letter_topic=projects/{PROJECT}/topics/cio-dead"],
}
GBK = common_urns.primitives.GROUP_BY_KEY.urn
PUBSUB_READ = common_urns.composites.PUBSUB_READ.urn
PUBSUB_WRITE = common_urns.composites.PUBSUB_WRITE.urn


@functools.lru_cache(maxsize=None)
def dataflow_job(mode: str, api_version: str, dead_letter: str):
    """(job, {unique_name: transform}) of the job DataflowRunner would submit."""
    logging.getLogger("apache_beam").setLevel(logging.ERROR)
    options = PipelineOptions(DATAFLOW + SOURCES[mode] + DEAD_LETTERS[dead_letter] + [f"--api_version={api_version}"])
    config = job_config(options)
    pipeline = beam.Pipeline(options=options)
    build_pipeline(pipeline, config)
    result = pipeline.run()
    job = result.job
    transforms = {t.unique_name: t for t in job.proto_pipeline.components.transforms.values()}
    return job, transforms


# Both modes with both API versions (dead letters to files), and both modes
# with the dead-letter topic: every dimension, in 6 translations (~1 s each).
CASES = [(m, v, "files") for m in SOURCES for v in ("v1", "v2")] + [
    ("batch", "v1", "topic"), ("streaming", "v2", "topic"),
]


def leaves(transforms):
    return {name: t for name, t in transforms.items() if not t.subtransforms}


def upstream_of(transforms, step_name):
    """Names of the leaf transforms whose output reaches `step_name`."""
    producer = {}
    for name, t in leaves(transforms).items():
        for pcoll in t.outputs.values():
            producer[pcoll] = name
    seen, todo = set(), [step_name]
    while todo:
        name = todo.pop()
        for pcoll in transforms[name].inputs.values():
            source = producer.get(pcoll)
            if source and source not in seen:
                seen.add(source)
                todo.append(source)
    return seen


@pytest.mark.pipeline
@pytest.mark.parametrize("mode,api_version,dead_letter", CASES)
def test_the_job_has_the_expected_steps(mode, api_version, dead_letter):
    job, transforms = dataflow_job(mode, api_version, dead_letter)
    names = set(transforms)
    streaming = mode == "streaming"
    expected = {
        "Parse", "MapByType/RouteByType",
        *(f"MapByType/Map{kind.capitalize()}" for kind in EVENT_TYPES),
        "MapByType/SplitRequests",
        "PrepareCalls/OrderPerPerson/KeyByPerson", "PrepareCalls/OrderPerPerson/GroupByPerson",
        *(["PrepareCalls/BatchItems/KeyByShard", "PrepareCalls/BatchItems/GroupByShard"] if streaming
          else ["PrepareCalls/BatchInBundle"]),
        "Deliver/Single", "Deliver/Batched", "WriteDeadLetters",
    }
    assert expected <= names, sorted(expected - names)
    assert "DryRun" not in names
    assert job.proto.type == (2 if streaming else 1), "JOB_TYPE_STREAMING / JOB_TYPE_BATCH"

    urns = Counter(t.spec.urn for t in leaves(transforms).values())
    reads = [n for n in names if n.startswith("ReadEvents/ReadFiles")]
    if streaming:
        assert urns[PUBSUB_READ] == 1 and "ReadEvents/ReadPubSub" in names
        assert reads == [], "a streaming job reads no files"
        assert "ReadEvents/Window/FixedWindows" in names
    else:
        assert urns[PUBSUB_READ] == 0
        assert "ReadEvents/ReadFiles" in names

    publish = "WriteDeadLetters/Publish/ParDo(_PubSubWriteDoFn)"
    if dead_letter == "topic":
        # Streaming: Dataflow's own Pub/Sub sink (the pubsub_write URN);
        # batch: Beam's DoFn that publishes with the Pub/Sub client.
        assert publish in names
        assert urns[PUBSUB_WRITE] == (1 if streaming else 0)
        assert not any(n.startswith("WriteDeadLetters/Write") for n in names)
    else:
        assert urns[PUBSUB_WRITE] == 0 and publish not in names
        assert "WriteDeadLetters/Write" in names


@pytest.mark.pipeline
@pytest.mark.parametrize("mode,api_version,dead_letter", CASES)
def test_no_step_funnels_the_events_onto_one_key(mode, api_version, dead_letter):
    _, transforms = dataflow_job(mode, api_version, dead_letter)
    before_delivery = upstream_of(transforms, "Deliver/Single") | upstream_of(transforms, "Deliver/Batched")
    # The only shuffles on the events' way to Customer.io are keyed ones: per
    # person (v1 calls) and, in streaming, per shard (v2 items). A batch job
    # cuts its v2 items into requests without a shuffle.
    shuffles = {n for n in before_delivery if transforms[n].spec.urn == GBK}
    keyed_by = {"PrepareCalls/OrderPerPerson/GroupByPerson": "PrepareCalls/OrderPerPerson/KeyByPerson"}
    if mode == "streaming":
        keyed_by["PrepareCalls/BatchItems/GroupByShard"] = "PrepareCalls/BatchItems/KeyByShard"
    assert shuffles == set(keyed_by)
    if mode == "batch":  # read, map, batch and send v2 items in one fused stage
        batched_path = upstream_of(transforms, "Deliver/Batched")
        assert not [n for n in batched_path if transforms[n].spec.urn == GBK]
    producer = {pc: n for n, t in leaves(transforms).items() for pc in t.outputs.values()}
    for gbk, key_step in keyed_by.items():
        (pcoll,) = transforms[gbk].inputs.values()
        assert producer[pcoll] == key_step, f"{gbk} is keyed by {producer[pcoll]}"
    # Nothing global (CombineGlobally, a single-key GroupByKey, a side input
    # of everything) on the way.
    for name in before_delivery:
        assert "Globally" not in name and "ToList" not in name, name
    # The dead-letter sink's shuffles only carry file names (one per bundle),
    # never the events themselves.
    for name, t in leaves(transforms).items():
        if t.spec.urn == GBK and name not in shuffles:
            assert name.startswith("WriteDeadLetters/"), name


@pytest.mark.pipeline
@pytest.mark.parametrize("mode", SOURCES)
def test_the_api_key_is_not_in_the_jobs_options(mode):
    job, _ = dataflow_job(mode, "v1", "files")
    assert SECRET not in str(job.proto)
    assert SECRET.encode() not in job.proto_pipeline.SerializeToString()


def test_person_keys_and_shards_spread_the_load():
    people = [wire(person=f"id:{i}", ts=float(i)) for i in range(8_000)]
    assert len({person_key(o) for o in people}) == len(people)
    default_shards = job_config(PipelineOptions(["--input=x", "--site_id=s", "--api_key=k"])).batch_shards
    assert default_shards > 1
    counts = Counter(shard_of(o, default_shards) for o in people)
    assert set(counts) == set(range(default_shards))
    assert max(counts.values()) < 1.2 * len(people) / default_shards
    # stable in every process: crc32, not Python's salted hash()
    assert shard_of(people[0], default_shards) == zlib.crc32(b"id:0") % default_shards


def test_each_worker_gets_its_share_of_the_budget():
    def rate(*argv):
        return job_config(PipelineOptions(["--input=x", "--site_id=s", "--api_key=k", "--rate_limit=1000", *argv]))

    assert rate().per_process_rate == 1000
    assert rate("--num_workers=4").per_process_rate == 250
    assert rate("--num_workers=4", "--max_num_workers=20").per_process_rate == 50
    assert rate("--max_num_workers=20", "--rate_limit_shares=80").per_process_rate == 12.5
