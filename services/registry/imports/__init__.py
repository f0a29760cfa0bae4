"""Bulk import and export of entities and products (CSV and XLSX), as jobs with progress."""
