"""Retrieval evaluation on BEIR-format benchmarks, through the real ingestion and retrieval paths."""
