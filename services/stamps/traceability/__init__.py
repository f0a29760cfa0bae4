"""EPCIS 2.0 queries, the export of a product's or a province's events, and the trace view of a stamp or a lot."""
