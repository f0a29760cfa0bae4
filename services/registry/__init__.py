"""Registry service: administrative units, producers, products, the OCOP cycle, catalogue."""
