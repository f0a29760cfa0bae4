"""Integration events: a transactional outbox, a relay that delivers signed HTTP posts, an idempotent inbox."""
