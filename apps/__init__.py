"""The ``zoo`` command-line apps."""
