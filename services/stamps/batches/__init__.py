"""Stamp batches: a producer's request for N stamps of one product, its approval, and the generation of their serials."""
