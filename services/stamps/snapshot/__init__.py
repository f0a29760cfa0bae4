"""The stamps service's own snapshot of products, producers and certificates, kept from integration events."""
