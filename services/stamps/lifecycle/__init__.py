"""The stamp lifecycle: issue, activate, suspend, revoke, void, with an audit of every change."""
