"""API gateway: routing, identity, rate limits, aggregation, public pages."""
