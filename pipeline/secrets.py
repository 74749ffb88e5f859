"""API keys from Google Secret Manager, read where they are needed.

`--api_key_file projects/P/secrets/S/versions/V` names a secret version
instead of a file. The launcher reads it once (for the credentials check);
the delivery step reads it again on each worker in `setup()`, so that only
the secret's name, never the key, is pickled into the job graph.
"""

from __future__ import annotations

import re

SECRET_VERSION = re.compile(r"^projects/[^/]+/secrets/[^/]+/versions/[^/]+$")


def is_secret_version(value: str | None) -> bool:
    """Whether `value` names a Secret Manager secret version."""
    return bool(value) and SECRET_VERSION.match(value) is not None


def read_secret(name: str) -> str:
    """The first line of a secret version's payload (with this process's credentials)."""
    from google.cloud import secretmanager  # a dependency of apache-beam[gcp]

    client = secretmanager.SecretManagerServiceClient()
    payload = client.access_secret_version(request={"name": name}).payload.data
    return payload.decode("utf-8").splitlines()[0].strip()
