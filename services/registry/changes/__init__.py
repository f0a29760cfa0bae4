"""Change requests: what a producer may not change in place (a certified product's identity, its entity's legal name and tax code) waits for an officer's approval."""
