"""The audit trail: who did what to which record, and when; every package writes it through service.record."""
