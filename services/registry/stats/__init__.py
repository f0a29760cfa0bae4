"""Registry statistics: products by group, status, star, commune, year; entities by type."""
