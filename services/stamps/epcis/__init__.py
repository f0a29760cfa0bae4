"""EPCIS 2.0 capture and storage: capture jobs, events kept verbatim with indexed columns, their EPCs."""
