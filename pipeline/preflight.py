"""A check of Customer.io before the job starts: fail in a second, not per event.

Customer.io's Track API answers ``GET /api/v1/accounts/region`` for valid
credentials with the workspace's region. A 401 there stops the launch with
one clear line instead of dead-lettering every event of a backfill; a
workspace in the other data center is caught too. So is an endpoint that
does not answer at all (a wrong --endpoint, no route to the data center):
a job started against it would only wait for an outage to end.
"""

from __future__ import annotations

import logging
import time

import requests

from pipeline.options import OptionsError
from pipeline.outage import is_outage_status
from transforms.limits import REGION_PATH
from transforms import Settings

LOG = logging.getLogger("cio-pipeline")

# One slow or failed answer should not fail a launch: the check is tried
# this many times, PAUSE_SECONDS apart, before Customer.io counts as down.
ATTEMPTS = 3
PAUSE_SECONDS = 1.0


def check_credentials(settings: Settings, timeout: float = 10.0, attempts: int = ATTEMPTS,
                      pause: float = PAUSE_SECONDS) -> None:
    """Raises OptionsError when Customer.io rejects the credentials or does not answer.

    "Does not answer": no connection (refused, DNS, TLS), no answer within
    `timeout`, or 408/5xx, on each of `attempts` tries. Any other answer
    but 200 is only logged.
    """
    url = settings.base_url + REGION_PATH
    headers = {"Authorization": settings.authorization()}
    for attempt in range(1, attempts + 1):
        try:
            response = requests.get(url, headers=headers, timeout=timeout)
        except requests.RequestException as err:
            # Only the error's class: its text holds the URL, and may hold more.
            failure = f"no answer ({type(err).__name__})"
        else:
            if not is_outage_status(response.status_code):
                break
            failure = f"answered {response.status_code}"
        if attempt == attempts:
            raise OptionsError(
                f"cannot reach Customer.io at {settings.base_url} ({failure}, {attempts} tries): check "
                f"--endpoint/--datacenter and the network, or start anyway with --skip_credentials_check"
            )
        time.sleep(pause)
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
