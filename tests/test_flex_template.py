"""The Flex Template in templates/ agrees with the code it launches, and its
image holds only what the job runs.

The option list is read from `add_customerio_arguments` itself, so a flag
added to pipeline/options.py without a template parameter (or a parameter
left behind after a flag is removed) fails here.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import re
from pathlib import Path

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.options import CustomerIoOptions, add_customerio_arguments

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"


def pipeline_flags() -> dict[str, argparse.Action]:
    """Our flags as the Flex Template names them: the flag without '--'."""
    parser = argparse.ArgumentParser(add_help=False)
    add_customerio_arguments(parser)
    return {action.option_strings[0].removeprefix("--"): action for action in parser._actions}


def template_parameters() -> dict[str, dict]:
    metadata = json.loads((TEMPLATES / "metadata.json").read_text())
    names = [p["name"] for p in metadata["parameters"]]
    assert len(names) == len(set(names)), "a parameter is declared twice"
    return {p["name"]: p for p in metadata["parameters"]}


def test_every_option_is_a_template_parameter_and_back():
    flags, params = set(pipeline_flags()), set(template_parameters())
    assert flags - params == set(), "options missing from templates/metadata.json"
    assert params - flags == set(), "parameters in templates/metadata.json that are no option"


def test_parameters_are_documented_and_optional():
    for name, param in template_parameters().items():
        assert param["label"].strip() and param["helpText"].strip(), name
        # The source is one of input/subscription/topic, so none is required
        # on its own; job_config checks the combination at launch.
        assert param.get("isOptional") is True, name
        for regex in param.get("regexes", []):
            re.compile(regex)


EXAMPLES = {
    "input": "gs://my-bucket/events/2025-*.jsonl.gz",
    "subscription": "projects/my-project/subscriptions/cio-events",
    "topic": "projects/my-project/topics/cio-events",
    "dead_letter": "gs://my-bucket/cio/dead/events",
    "dead_letter_topic": "projects/my-project/topics/cio-dead",
    "dry_run_output": "gs://my-bucket/cio/dry/requests",
    "endpoint": "http://10.0.0.7:8080",
    "datacenter": "EU",
    "api_version": "v2",
    "record_object": "event",
    "skip_credentials_check": "true",
    "no_dedup_ids": "false",
    "convert_timestamps": "true",
    "rate_limit": "900",
    "rate_limit_shares": "40",
    "max_retries": "8",
    "request_timeout": "2.5",
    "max_in_flight": "512",
    "batch_shards": "32",
    "sync_state": "gs://my-bucket/cio/sync/people",
    "sync_deletes": "true",
}


@pytest.mark.parametrize("name,value", sorted(EXAMPLES.items()))
def test_a_valid_value_passes_the_regex_and_parses_as_the_template_passes_it(name, value):
    param = template_parameters()[name]
    for regex in param.get("regexes", []):
        assert re.fullmatch(regex, value), (name, value, regex)
    # Flex Templates pass every parameter as --name=value.
    options = PipelineOptions([f"--{name}={value}"]).view_as(CustomerIoOptions)
    dest = pipeline_flags()[name].dest
    assert getattr(options, dest) is not None


def test_switches_take_an_explicit_value():
    def opts(*argv):
        return PipelineOptions(list(argv)).view_as(CustomerIoOptions)

    assert opts().dedup_ids is True and opts().skip_credentials_check is False
    assert opts("--no_dedup_ids").dedup_ids is False
    assert opts("--no_dedup_ids=true").dedup_ids is False
    assert opts("--no_dedup_ids=false").dedup_ids is True
    assert opts("--skip_credentials_check").skip_credentials_check is True
    assert opts("--skip_credentials_check=false").skip_credentials_check is False
    assert opts().convert_timestamps is False
    assert opts("--convert_timestamps").convert_timestamps is True
    assert opts("--convert_timestamps=false").convert_timestamps is False


@pytest.mark.parametrize("name,bad", [
    ("subscription", "my-subscription"),
    ("topic", "projects/p/subscriptions/s"),
    ("input", "/local/file.jsonl"),
    ("api_version", "v3"),
    ("rate_limit", "-5"),
    ("no_dedup_ids", "maybe"),
])
def test_regexes_reject_obvious_mistakes(name, bad):
    assert not any(re.fullmatch(r, bad) for r in template_parameters()[name]["regexes"])


def test_requirements_pin_what_the_tests_run_with():
    pins = {}
    for line in (TEMPLATES / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = re.fullmatch(r"([A-Za-z0-9_.\-]+)(?:\[[^\]]+\])?==([^\s;]+)", line).groups()
            pins[name.lower().replace("_", "-")] = version
    assert {"apache-beam", "pydantic", "requests", "orjson"} <= set(pins)
    for name, version in pins.items():
        assert importlib.metadata.version(name) == version, name
    dockerfile = (TEMPLATES / "Dockerfile").read_text()
    assert f"ARG BEAM_VERSION={pins['apache-beam']}" in dockerfile


def test_dockerfile_launches_templates_main_and_can_serve_as_worker_image():
    dockerfile = (TEMPLATES / "Dockerfile").read_text()
    assert re.search(r"^FROM \$\{LAUNCHER_IMAGE\}$", dockerfile, re.M)
    assert "python311-template-launcher-base" in dockerfile
    assert 'ENV FLEX_TEMPLATE_PYTHON_PY_FILE="${WORKDIR}/main.py"' in dockerfile
    assert "COPY templates/main.py main.py" in dockerfile
    assert "COPY --from=beam_sdk /opt/apache/beam /opt/apache/beam" in dockerfile
    assert 'ENTRYPOINT ["/opt/apache/beam/boot"]' in dockerfile
    assert re.search(r"pip install --no-cache-dir --no-deps \.", dockerfile)


def test_launcher_rejects_bad_options_before_building(monkeypatch):
    import runpy

    launcher = runpy.run_path(str(TEMPLATES / "main.py"))
    from pipeline.options import OptionsError

    with pytest.raises(OptionsError, match="unknown option --rate_limt"):
        launcher["launch"](["--input=gs://b/x", "--rate_limt=5"])
    monkeypatch.delenv("CIO_API_KEY", raising=False)
    with pytest.raises(OptionsError, match="one of --input, --subscription or --topic"):
        launcher["launch"](["--site_id=s", "--api_key=k"])


def graph_payload(fn) -> bytes:
    """A step's function as it is stored in the job graph, decompressed."""
    import base64
    import bz2

    from apache_beam.internal import cloudpickle_pickler

    return bz2.decompress(base64.b64decode(cloudpickle_pickler.dumps(fn)))


def test_a_secret_manager_key_stays_out_of_options_and_job_graph(monkeypatch, tmp_path):
    """--api_key_file=projects/.../versions/V: read at launch, and by each
    worker in setup(); no pickled step of the job holds the key."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from pipeline import secrets
    from pipeline.build import build_pipeline
    from pipeline.options import job_config

    key = "sk-from-secret-manager-5151"
    asked = []

    def fake_read(name):  # Google's client needs credentials and network
        asked.append(name)
        return key

    monkeypatch.setattr(secrets, "read_secret", fake_read)
    secret = "projects/p/secrets/cio-api-key/versions/latest"
    (tmp_path / "x.jsonl").write_text("{}\n")
    options = PipelineOptions([f"--input={tmp_path / 'x.jsonl'}", "--site_id=s", f"--api_key_file={secret}"])
    config = job_config(options)
    assert asked == [secret] and config.settings.api_key.get_secret_value() == key
    assert config.api_key_secret == secret
    assert key not in str(options.get_all_options())

    pipeline = beam.Pipeline(options=options)
    build_pipeline(pipeline, config)
    pickled = []

    class Steps(beam.pipeline.PipelineVisitor):
        def visit_transform(self, node):
            fn = getattr(node.transform, "fn", None)
            if fn is not None:
                pickled.append((node.full_label, graph_payload(fn)))

    pipeline.visit(Steps())
    assert any(label.startswith("Deliver/") for label, _ in pickled), [label for label, _ in pickled]
    assert [label for label, data in pickled if key.encode() in data] == []


def test_a_key_given_directly_is_only_in_the_delivery_step(tmp_path):
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from pipeline.build import build_pipeline
    from pipeline.options import job_config

    key = "sk-direct-7373"
    (tmp_path / "x.jsonl").write_text("{}\n")
    options = PipelineOptions([f"--input={tmp_path / 'x.jsonl'}", "--site_id=s", f"--api_key={key}"])
    pipeline = beam.Pipeline(options=options)
    build_pipeline(pipeline, job_config(options))
    holders = []

    class Steps(beam.pipeline.PipelineVisitor):
        def visit_transform(self, node):
            fn = getattr(node.transform, "fn", None)
            if fn is not None and key.encode() in graph_payload(fn):
                holders.append(node.full_label)

    pipeline.visit(Steps())
    assert holders and all(label.startswith("Deliver/") for label in holders), holders

# --- the production image holds only what the job runs --------------------

REPO = TEMPLATES.parent
# What a Dataflow job never runs: they stay out of the image.
NOT_IN_IMAGE = ("cio_sandbox", "tests", "bench", "examples", "docs")
# Our top-level packages and folders (the names an import could point at).
OURS = {"pipeline", "transforms", *NOT_IN_IMAGE}


def dockerignore_patterns() -> list[tuple[bool, str]]:
    """(is an exception "!...", pattern) in file order."""
    patterns = []
    for line in (TEMPLATES / "Dockerfile.dockerignore").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            negated = line.startswith("!")
            patterns.append((negated, line.lstrip("!").rstrip("/")))
    return patterns


def in_build_context(rel: str, patterns) -> bool:
    """Docker's rule: the last pattern that matches the path or one of its
    parent folders decides (a "!" pattern puts it back in)."""
    import fnmatch

    parts = rel.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    included = True
    for negated, pattern in patterns:
        if any(fnmatch.fnmatchcase(c, pattern) for c in candidates):
            included = negated
    return included


def build_context() -> set[str]:
    import os

    patterns = dockerignore_patterns()
    files = set()
    for folder, dirs, names in os.walk(REPO):
        dirs[:] = [d for d in dirs if d not in (".git", ".venv", "out")]
        for name in names:
            rel = Path(folder, name).relative_to(REPO).as_posix()
            if in_build_context(rel, patterns):
                files.add(rel)
    return files


def test_the_image_context_holds_the_job_and_nothing_else():
    context = build_context()
    leaked = sorted(f for f in context if f.split("/")[0] in NOT_IN_IMAGE)
    assert not leaked, f"in the Flex Template's build context but not run by the job: {leaked[:10]}"
    for package in ("pipeline", "transforms"):
        sources = {p.relative_to(REPO).as_posix() for p in (REPO / package).rglob("*.py")}
        assert sources and sources <= context, f"{package}/ is not wholly in the image"
    assert {"pyproject.toml", "templates/main.py", "templates/requirements.txt"} <= context
    assert not any("__pycache__" in f or f.endswith(".pyc") for f in context)


def test_the_dockerfile_copies_only_what_the_context_holds():
    context = build_context()
    dockerfile = (TEMPLATES / "Dockerfile").read_text()
    copies = re.findall(r"^COPY (?!--from)(.+)$", dockerfile, re.M)
    sources = [src.rstrip("*") for line in copies for src in line.split()[:-1]]
    assert sources, "no COPY found"
    for src in sources:
        assert src.split("/")[0] not in NOT_IN_IMAGE, f"the Dockerfile copies {src}"
        assert any(f == src or f.startswith(src.rstrip("/") + "/") for f in context), \
            f"the Dockerfile copies {src}, which Dockerfile.dockerignore leaves out"


def test_the_job_imports_nothing_that_stays_out_of_the_image():
    """A module the job runs importing the sandbox (or a test helper) would
    build fine and fail on the workers."""
    import ast

    offending = []
    files = [*REPO.joinpath("pipeline").rglob("*.py"), *REPO.joinpath("transforms").rglob("*.py"),
             TEMPLATES / "main.py"]
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                if name.split(".")[0] in OURS and name.split(".")[0] not in ("pipeline", "transforms"):
                    offending.append(f"{path.relative_to(REPO)}: import {name}")
    assert not offending, offending


def test_the_launcher_image_is_pinned_to_a_dated_tag():
    dockerfile = (TEMPLATES / "Dockerfile").read_text()
    launcher = re.search(r"^ARG LAUNCHER_IMAGE=(\S+)$", dockerfile, re.M).group(1)
    assert re.fullmatch(r"gcr\.io/dataflow-templates-base/python311-template-launcher-base:\d{8}[-_][A-Za-z0-9]+",
                        launcher), launcher


def test_the_template_readme_names_only_parameters_that_exist():
    readme = (TEMPLATES / "README.md").read_text()
    named = set(re.findall(r"--parameters (?:\^.\^)?(\w+)=", readme))
    # Beam's own options that Dataflow accepts for any Flex Template.
    beam_options = {"sdk_container_image", "sdk_location"}
    assert named, "no --parameters in templates/README.md"
    assert named - beam_options <= set(template_parameters()), named - beam_options - set(template_parameters())
    assert "pasted into" not in readme
