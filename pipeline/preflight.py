"""A credentials check before the job starts: fail in a second, not per event.

Customer.io's Track API answers ``GET /api/v1/accounts/region`` for valid
credentials with the workspace's region. A 401 there stops the launch with
one clear line instead of dead-lettering every event of a backfill; a
workspace in the other data center is caught too.
"""

from __future__ import annotations

import logging

import requests

from pipeline.options import OptionsError
from transforms import Settings

LOG = logging.getLogger("cio-pipeline")

REGION_PATH = "/api/v1/accounts/region"


def check_credentials(settings: Settings, timeout: float = 10.0) -> None:
    """Raises OptionsError when Customer.io rejects the credentials.

    Other failures (no answer, 5xx) are only logged: delivery retries those,
    and a launch should not fail because of one slow answer.
    """
    url = settings.base_url + REGION_PATH
    try:
        response = requests.get(url, headers={"Authorization": settings.authorization()}, timeout=timeout)
    except requests.RequestException as err:
        LOG.warning("could not check the credentials at %s (%s); starting anyway", url, type(err).__name__)
        return
    if response.status_code == 401:
        raise OptionsError(
            "Customer.io rejected the credentials (401 Unauthorized): check --site_id and the API key"
        )
    if response.status_code != 200:
        LOG.warning("credentials check answered %s; starting anyway", response.status_code)
        return
    try:
        region_url = response.json().get("url")
    except ValueError:
        return
    if settings.endpoint is None and region_url and region_url.rstrip("/") != settings.base_url:
        wanted = "EU" if "track-eu" in region_url else "US"
        raise OptionsError(
            f"the workspace of these credentials is in the {wanted} data center: use --datacenter {wanted}"
        )
