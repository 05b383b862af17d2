"""pointclub's GraphQL types (Strawberry). Not the PyPI package named ``schema``."""

POINTCLUB_SCHEMA_PACKAGE = True
