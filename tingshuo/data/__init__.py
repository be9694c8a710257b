"""Datasets: manifests in the ecosystem formats."""
