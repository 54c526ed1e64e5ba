"""The ``field-sync`` command: serve the registry, run the demo, export schemas.

It is the one place that may import both ``server`` and ``client_lib``, which never import each
other.
"""

__all__: list[str] = []
