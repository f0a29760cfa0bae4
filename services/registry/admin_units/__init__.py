"""Administrative units: provinces, districts and communes with validity dates and successors."""
