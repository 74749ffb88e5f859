"""Shared fixtures: the Pub/Sub emulator (one per session) and the sandbox."""

from tests.services import make_sandbox, pubsub_emulator, sandbox  # noqa: F401 - fixtures
