"""Evaluation councils (hội đồng đánh giá), their members and their scoring rounds."""
