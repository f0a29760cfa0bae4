"""The demo data set (``ocop seed --demo``): Quảng Ninh's published 2017–2020 OCOP breakdown."""
