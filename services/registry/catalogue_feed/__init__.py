"""The catalogue feed: what the public catalogue last showed of each product, and its registry.catalogue.* events."""
