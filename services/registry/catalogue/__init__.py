"""Public catalogue of certified OCOP products: search, filters, sort, cursor pages."""
