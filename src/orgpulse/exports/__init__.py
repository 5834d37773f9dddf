"""Exports: CSV streaming (PDF reports arrive later)."""

from orgpulse.exports.csv import csv_filename, csv_response, safe_cell

__all__ = ["csv_filename", "csv_response", "safe_cell"]
