"""Scoring statistics: results and certificates in force counted by star, level, set, province, year."""
