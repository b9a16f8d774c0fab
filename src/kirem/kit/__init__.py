"""Shared utilities every layer may use: domain errors, query parameters, timestamps, paging, enums."""
