"""Metered usage per project per month, and the estimated bill."""
