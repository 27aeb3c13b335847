"""The built-in plugins: CSV, JSON and chart exporters.

They are ordinary plugins, registered through the same ``pledgeledger`` entry-point group as any
third-party one (see ``pyproject.toml``), and listed like them by ``pledgeledger plugins``. Read
them as worked examples of the ``register_exporters`` hook: they import only what a third-party
plugin may import (:mod:`pledgeledger.plugins` and :mod:`pledgeledger.view`).
"""
