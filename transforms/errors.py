"""The one error type of the mapping layer.

Every event that cannot become a Customer.io request raises ``MappingError``;
its message is the reason that ends up in the dead-letter record, so it must
be short, human-readable and never contain secrets.
"""


class MappingError(ValueError):
    """An event that cannot be mapped; ``str(err)`` is the reason."""
