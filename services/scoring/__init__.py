"""Scoring service: criteria, councils, dossiers, scorecards, star results, certificates."""
