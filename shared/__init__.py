"""Common library for the OCOP services: framework glue only, no business rules."""
