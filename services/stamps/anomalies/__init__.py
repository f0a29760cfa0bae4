"""Counterfeit signals: the rules over scan histories, the anomaly queue, each stamp's risk."""
