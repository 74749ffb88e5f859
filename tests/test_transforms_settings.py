"""Settings (docs/mapping.md, section 1): validation, URLs, authorization, secrecy."""

import base64
import pickle

import pytest

from transforms import BATCH_PATH, Settings, SettingsError, load_settings

KEY = "sk-very-secret-123"


@pytest.mark.parametrize(
    "values, base_url",
    [
        ({}, "https://track.customer.io"),
        ({"datacenter": "US"}, "https://track.customer.io"),
        ({"datacenter": "EU"}, "https://track-eu.customer.io"),
        ({"datacenter": "eu"}, "https://track-eu.customer.io"),
        ({"datacenter": " Eu "}, "https://track-eu.customer.io"),
        ({"endpoint": "http://127.0.0.1:8080/"}, "http://127.0.0.1:8080"),
        ({"endpoint": "https://proxy.example.com/cio//", "datacenter": "EU"}, "https://proxy.example.com/cio"),
    ],
)
def test_base_url_follows_datacenter_or_endpoint(values, base_url):
    settings = load_settings(site_id="site", api_key=KEY, **values)
    assert settings.base_url == base_url
    assert settings.batch_url == base_url + BATCH_PATH


def test_defaults():
    settings = load_settings(site_id="site", api_key=KEY)
    assert (settings.datacenter, settings.api_version, settings.record_object) == ("US", "v1", "person")
    assert settings.dedup_ids is True and settings.device_token_event is None and settings.endpoint is None


def test_authorization_is_basic_site_id_colon_key():
    settings = load_settings(site_id="site", api_key=KEY)
    assert settings.authorization() == "Basic " + base64.b64encode(f"site:{KEY}".encode()).decode()


def test_key_never_shown_in_repr_str_or_dump():
    settings = load_settings(site_id="site", api_key=KEY)
    for text in (repr(settings), str(settings), str(settings.model_dump()), settings.model_dump_json()):
        assert KEY not in text


def test_settings_pickle_round_trip():
    settings = load_settings(site_id="site", api_key=KEY, api_version="V2", device_token_event="Push Enabled")
    again = pickle.loads(pickle.dumps(settings))
    assert again == settings and again.authorization() == settings.authorization()
    assert again.api_version == "v2"


@pytest.mark.parametrize(
    "values, message",
    [
        ({"api_key": KEY}, "invalid settings: site_id is required"),
        ({"site_id": "s"}, "invalid settings: api_key is required"),
        ({"site_id": "", "api_key": ""}, "invalid settings: site_id is required; api_key is required"),
        ({"site_id": "s", "api_key": KEY, "datacenter": "XX"}, "invalid settings: datacenter must be US or EU (got 'XX')"),
        ({"site_id": "s", "api_key": KEY, "api_version": "v3"}, "invalid settings: api_version must be v1 or v2 (got 'v3')"),
        ({"site_id": "s", "api_key": KEY, "record_object": "car"},
         "invalid settings: record_object must be person or event (got 'car')"),
        ({"site_id": "s", "api_key": KEY, "endpoint": "ftp://x"},
         "invalid settings: endpoint must start with http:// or https:// (got 'ftp://x')"),
        ({"site_id": "s", "api_key": KEY, "dedup_ids": "maybe"},
         "invalid settings: dedup_ids must be true or false (got 'maybe')"),
        ({"site_id": "s", "api_key": KEY, "colour": "red"}, "invalid settings: colour is not a setting"),
        ({"api_key": KEY, "datacenter": "XX"},
         "invalid settings: site_id is required; datacenter must be US or EU (got 'XX')"),
    ],
)
def test_invalid_settings_give_one_line_naming_each(values, message):
    with pytest.raises(SettingsError) as caught:
        load_settings(**values)
    assert str(caught.value) == message
    assert "\n" not in str(caught.value) and KEY not in str(caught.value)


@pytest.mark.parametrize("bad_key", [12345, ["k"], {"k": KEY}])
def test_a_wrong_key_is_never_echoed(bad_key):
    with pytest.raises(SettingsError) as caught:
        load_settings(site_id="s", api_key=bad_key)
    assert str(caught.value) == "invalid settings: api_key must be a non-empty string"
    with pytest.raises(ValueError) as direct:
        Settings(site_id="s", api_key=bad_key)
    assert "12345" not in str(direct.value) and KEY not in str(direct.value)


def test_settings_error_is_a_value_error():
    assert issubclass(SettingsError, ValueError)


def test_empty_device_token_event_means_none():
    assert load_settings(site_id="s", api_key=KEY, device_token_event="").device_token_event is None


def test_cached_urls_follow_a_copy_and_leave_equality_dumps_and_pickling_alone():
    settings = load_settings(site_id="s", api_key="k", endpoint="http://a.example/")
    plain = load_settings(site_id="s", api_key="k", endpoint="http://a.example/")
    assert settings.batch_url == "http://a.example" + BATCH_PATH  # now cached
    assert settings.customers_url == "http://a.example/api/v1/customers/"
    assert settings.urls.customers == settings.customers_url  # cached too: the copy below must drop it
    assert settings == plain and settings.model_dump() == plain.model_dump()
    assert "batch_url" not in repr(settings)
    assert pickle.loads(pickle.dumps(settings)) == settings
    moved = settings.model_copy(update={"endpoint": None, "datacenter": "EU"})
    assert moved.base_url == "https://track-eu.customer.io"
    assert moved.batch_url == "https://track-eu.customer.io" + BATCH_PATH
    assert moved.customers_url == "https://track-eu.customer.io/api/v1/customers/"
    assert (settings.urls.batch, moved.urls.batch) == (settings.batch_url, moved.batch_url)
    assert moved.urls.segment_add == moved.segment_url(False) and moved.urls.segment_remove == moved.segment_url(True)
    assert settings.without_key().batch_url == settings.batch_url
