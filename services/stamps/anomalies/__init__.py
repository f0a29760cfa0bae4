"""Counterfeit signals from scan histories (TRACEABILITY §4.6 R1 cluster, R5–R11): the detector and the review queue."""
