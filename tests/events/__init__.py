"""The integration-events kit (shared/events): signatures, envelopes, the inbox and its route, the relay."""
