"""Producers' sites (production, packing, warehouse, shop) as EPCIS locations: SGLN or a platform URI."""
