"""The OCOP domain services, each in its own package, and the `ocop` command."""
