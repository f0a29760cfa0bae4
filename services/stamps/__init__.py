"""Stamps service: e-stamp batches and serials, Digital Link, verification, EPCIS 2.0."""
