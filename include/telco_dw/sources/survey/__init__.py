"""Satisfaction surveys: relationship NPS, transactional CSAT, CES, free-text comments."""
