"""Exports: CSV streaming (PDF reports arrive later)."""

from orgpulse.exports.csv import CsvResponse, csv_filename, csv_response, safe_cell

__all__ = ["CsvResponse", "csv_filename", "csv_response", "safe_cell"]
