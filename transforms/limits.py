"""Customer.io's published Track API limits and the paths we call, in one place.

Every number here is a cap Customer.io publishes for its Track API (its API
reference and OpenAPI document); the mapping, the batching, the backfill
sizing, the sandbox and the benchmarks all import them from here, so a
changed limit is changed once. Pure constants: no Beam, no imports.
"""

# --- identifiers and names ------------------------------------------------------
MAX_PERSON_ID_BYTES = 150
"""A person identifier (id, email, cio_id) in a path, v2 identifiers, merge or
segment ids: Customer.io refuses longer ones, so the mapping dead-letters them
with a readable reason instead of sending a call that fails."""

MAX_EVENT_NAME_BYTES = 100
"""An event name: Customer.io refuses longer ones; anonymous event names are
cut to this (see DECISIONS.md), named events are checked by Customer.io."""

MAX_ATTRIBUTES = 300
"""Attributes per person update: Customer.io refuses an update with more."""

MAX_ATTRIBUTE_NAME_BYTES = 150
"""An attribute name: Customer.io refuses longer ones."""

MAX_ATTRIBUTE_VALUE_BYTES = 1000
"""An attribute value (as JSON text): Customer.io refuses longer ones."""

MAX_V1_EVENT_DATA_BYTES = 100_000
"""The ``data`` of a v1 event: Customer.io answers 400 above it (not checked
by the mapping: the event is dead-lettered on that answer)."""

# --- v2 batches and segment requests -------------------------------------------
MAX_BATCH_ITEM_BYTES = 32 * 1024
"""One item of ``POST /api/v2/batch``: Customer.io refuses a bigger item, so
the mapping dead-letters that event alone."""

MAX_BATCH_BODY_BYTES = 500_000
"""A whole ``/api/v2/batch`` request body: Customer.io refuses a bigger one,
so the batching closes a batch before it would grow past it."""

MAX_BATCH_ITEMS = 1000
"""Items per ``/api/v2/batch`` request, and ids per manual segment request
(``{"ids": [...]}``): Customer.io's cap on both."""

# --- Track API paths ------------------------------------------------------------
CUSTOMERS_PATH = "/api/v1/customers/"
"""The start of every v1 person call: ``{CUSTOMERS_PATH}{id}``, ``.../events``,
``.../devices``, ``.../suppress``..."""
EVENTS_PATH = "/api/v1/events"
"""Anonymous events (v1)."""
MERGE_PATH = "/api/v1/merge_customers"
"""Merging two people (v1)."""
SEGMENTS_PATH = "/api/v1/segments"
"""Manual segments: ``POST {SEGMENTS_PATH}/{id}/add_customers|remove_customers?id_type=...``
with ``{"ids": [...]}``; a segment batch item is one id (a JSON string)."""
BATCH_PATH = "/api/v2/batch"
"""Every v2 item (and every object item, in both versions), inside ``{"batch": [items]}``."""
METRICS_PATH = "/api/v1/metrics"
"""Delivery metrics reported from outside Customer.io (v1 only; Customer.io
asks for no credentials on it)."""
REGION_PATH = "/api/v1/accounts/region"
"""Answers valid credentials with the workspace's region; needs no event
(the launch check and the outage probe)."""
