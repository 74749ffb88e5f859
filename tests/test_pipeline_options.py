"""Flags become one checked configuration; bad settings give one clear line."""

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.main import run
from pipeline.options import OptionsError, job_config, unknown_flags

BASE = ["--input", "x.jsonl", "--site_id", "s", "--api_key", "k"]


def config(args):
    return job_config(PipelineOptions(args))


def test_defaults():
    c = config(BASE)
    assert c.settings.site_id == "s"
    assert c.settings.base_url == "https://track.customer.io"
    assert (c.rate_limit, c.max_retries, c.window_seconds, c.streaming) == (100, 6, 5, False)
    assert c.dead_letter == "out/dead_letter/events"
    assert c.per_process_rate == 100


def test_env_vars_give_the_credentials(monkeypatch):
    monkeypatch.setenv("CIO_SITE_ID", "env-site")
    monkeypatch.setenv("CIO_API_KEY", "env-key")
    c = config(["--input", "x"])
    assert c.settings.site_id == "env-site"
    assert c.settings.api_key.get_secret_value() == "env-key"


def test_key_from_a_file(tmp_path):
    key = tmp_path / "key"
    key.write_text("file-key\n")
    c = config(["--input", "x", "--site_id", "s", "--api_key_file", str(key)])
    assert c.settings.api_key.get_secret_value() == "file-key"


def test_key_is_removed_from_the_options():
    options = PipelineOptions(BASE)
    job_config(options)
    assert "k" not in str(options.get_all_options()["api_key"])


def test_streaming_from_a_subscription():
    c = config(["--subscription", "projects/p/subscriptions/s", "--site_id", "s", "--api_key", "k"])
    assert c.streaming and c.subscription == "projects/p/subscriptions/s"


def test_budget_is_split_between_workers():
    assert config(BASE + ["--max_num_workers", "4"]).per_process_rate == 25
    assert config(BASE + ["--direct_num_workers", "2", "--direct_running_mode", "multi_processing"]).per_process_rate == 50
    assert config(BASE + ["--rate_limit", "300", "--rate_limit_shares", "3"]).per_process_rate == 100


@pytest.mark.parametrize("args,fragment", [
    (["--site_id", "s", "--api_key", "k"], "one of --input, --subscription or --topic is required"),
    (BASE + ["--topic", "projects/p/topics/t"], "give only one of"),
    (["--input", "x", "--api_key", "k"], "site"),
    (["--input", "x", "--site_id", "s"], "api"),
    (BASE + ["--datacenter", "XX"], "datacenter"),
    (BASE + ["--api_version", "v3"], "api_version"),
    (BASE + ["--rate_limit", "0"], "--rate_limit must be greater than 0"),
    (BASE + ["--endpoint", "ftp://x"], "endpoint"),
])
def test_bad_settings_fail_with_one_line(args, fragment, monkeypatch):
    monkeypatch.delenv("CIO_SITE_ID", raising=False)
    monkeypatch.delenv("CIO_API_KEY", raising=False)
    with pytest.raises(OptionsError) as err:
        config(args)
    message = str(err.value)
    assert fragment in message
    assert "\n" not in message


def test_unknown_flags_are_found():
    assert unknown_flags(BASE + ["--rate_limt", "5"]) == ["--rate_limt"]
    assert unknown_flags(BASE + ["--runner", "DirectRunner", "--num_workers", "3"]) == []


def test_cli_exit_status_and_message_for_bad_settings(capsys, monkeypatch):
    monkeypatch.delenv("CIO_SITE_ID", raising=False)
    monkeypatch.setenv("CIO_API_KEY", "secret-value-xyz")
    assert run(["--input", "x.jsonl"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("cio-pipeline: invalid settings:") and "site" in err
    assert "secret-value-xyz" not in err
    assert len(err.splitlines()) == 1


def test_cli_rejects_unknown_flag(capsys):
    assert run(BASE + ["--rate_limt", "5"]) == 2
    assert "--rate_limt" in capsys.readouterr().err


def test_cli_help_lists_every_flag(capsys):
    assert run(["--help"]) == 0
    out = capsys.readouterr().out
    for flag in ("--input", "--subscription", "--topic", "--timestamp_attribute", "--site_id", "--api_key",
                 "--datacenter", "--api_version", "--device_token_event", "--record_object", "--no_dedup_ids",
                 "--endpoint", "--dry_run_output", "--dead_letter", "--dead_letter_topic", "--rate_limit",
                 "--max_retries", "--window_seconds"):
        assert flag in out


def test_cli_input_that_matches_no_file_is_one_line(capsys, tmp_path):
    assert run(["--input", str(tmp_path / "nothing-*.jsonl"), "--site_id", "s", "--api_key", "k",
                "--skip_credentials_check"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("cio-pipeline: No files found") and len(err.splitlines()) == 1


def test_the_outage_limit_applies_to_batch_jobs_only():
    assert config(BASE).outage_limit_seconds == 300
    assert config(BASE + ["--outage_limit_seconds", "2.5"]).outage_limit_seconds == 2.5
    streaming = config(["--subscription", "projects/p/subscriptions/s", "--site_id", "s", "--api_key", "k",
                        "--outage_limit_seconds", "2.5"])
    assert streaming.outage_limit_seconds is None, "a streaming job waits out an outage"
    with pytest.raises(OptionsError, match="--outage_limit_seconds must be greater than 0"):
        config(BASE + ["--outage_limit_seconds", "0"])


def test_help_lists_every_exit_status(capsys):
    assert run(["--help"]) == 0
    out = capsys.readouterr().out
    for status in ("0", "1", "2", "3", "4", "5", "130", "143"):
        assert f"\n  {status} " in out, f"exit status {status} is missing from --help"


def test_convert_timestamps_is_off_unless_asked_for():
    assert config(BASE).settings.convert_timestamps is False
    assert config(BASE + ["--convert_timestamps"]).settings.convert_timestamps is True
    assert config(BASE + ["--convert_timestamps=false"]).settings.convert_timestamps is False


# ---- what a new user meets first: --help, a bad value, a dry run, a folder -----------------

def test_help_shows_defaults_choices_and_bare_switches(capsys):
    assert run(["--help"]) == 0
    out = capsys.readouterr().out
    for shown in ("--datacenter {US,EU}", "--api_version {v1,v2}", "--input_format {jsonl,csv,parquet}",
                  "(default: 6)", "(default: 8)", "(default: 5.0)", "(default: v1)", "(default: US)"):
        assert shown in out, shown
    assert "--skip_credentials_check\n" in out and "SKIP_CREDENTIALS_CHECK" not in out
    assert "[DEDUP_IDS]" not in out and "[RESTART]" not in out
    groups = [line for line in out.splitlines() if line and not line.startswith(" ") and line.endswith(":")]
    assert groups[:6] == ["options:", "input:", "Customer.io:", "delivery:", "output:",
                          "warehouse exports (reverse ETL):"]
    assert "--direct_running_mode" not in out, "Beam's own options are named in the epilog, not listed"


@pytest.mark.parametrize("args, flag, expected", [
    (["--rate_limit", "abc"], "--rate_limit", "invalid float value: 'abc'"),
    (["--max_retries", "2.5"], "--max_retries", "invalid int value: '2.5'"),
    (["--direct_num_workers", "x"], "--direct_num_workers", "invalid int value: 'x'"),
])
def test_a_bad_value_is_one_line_naming_the_flag(capsys, args, flag, expected):
    assert run(BASE + args) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [f"cio-pipeline: argument {flag}: {expected} (see --help)"]


def test_a_dry_run_needs_no_credentials(monkeypatch):
    monkeypatch.delenv("CIO_SITE_ID", raising=False)
    monkeypatch.delenv("CIO_API_KEY", raising=False)
    c = config(["--input", "x.jsonl", "--dry_run_output", "out/requests"])
    assert c.check_credentials is False
    assert c.settings.site_id == "dry-run"
    with pytest.raises(OptionsError, match="site_id is required; api_key is required"):
        config(["--input", "x.jsonl"])
    given = config(["--input", "x.jsonl", "--dry_run_output", "o", "--site_id", "s", "--api_key", "k"])
    assert given.settings.site_id == "s" and given.settings.api_key.get_secret_value() == "k"


def test_a_folder_as_input_reads_the_files_in_it(tmp_path):
    (tmp_path / "a.jsonl").write_text("{}\n")
    assert config(["--input", str(tmp_path)] + BASE[2:]).input == str(tmp_path / "*")
    assert config(["--input", f"{tmp_path}/"] + BASE[2:]).input == str(tmp_path / "*")
    assert config(["--input", "gs://bucket/events/"] + BASE[2:]).input == "gs://bucket/events/*"
    assert config(["--input", str(tmp_path / "a.jsonl")] + BASE[2:]).input == str(tmp_path / "a.jsonl")
    (tmp_path / "more").mkdir()
    for given in (str(tmp_path), f"{tmp_path}/*"):
        with pytest.raises(OptionsError, match=r"folder .*more"):
            config(["--input", given] + BASE[2:])
