"""The OCOP cycle: product-idea registrations and business plans, with their review transitions."""
