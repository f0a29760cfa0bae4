"""Partner webhooks: subscriptions to the catalogue's events, their signing secrets and their delivery log."""
