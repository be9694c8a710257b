"""Search: text embeddings (and, later, spoken-content search over audio libraries)."""
