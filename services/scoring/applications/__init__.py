"""Evaluation applications (hồ sơ): dossiers and their snapshots, attachments, self-assessments, scorecards, results."""
