"""OCOP entities (chủ thể OCOP): enterprises, cooperatives, cooperative groups, household businesses."""
