"""The stamp lifecycle: issue, activate, suspend, unsuspend, revoke and void stamps, audited (TRACEABILITY §4.4)."""
