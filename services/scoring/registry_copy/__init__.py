"""Scoring's copy of the registry's products and entities, kept from the registry's events."""
