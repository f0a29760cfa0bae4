"""Stamp statistics: stamps issued, active and scanned, and certified products' e-stamp coverage, by group."""
