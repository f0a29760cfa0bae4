"""The national sync: catalogue changes delivered to the national OCOP system, and its initial load."""
