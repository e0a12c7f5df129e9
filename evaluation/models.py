"""Assignments, conflicts, reviews, opinions, selection and decisions (later issues)."""
