"""Identity: the principal model and the one module that handles JWTs."""
