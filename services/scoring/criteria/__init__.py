"""National criteria: the criteria versions, their product sets, score sheets (shipped and imported) and the arithmetic."""
