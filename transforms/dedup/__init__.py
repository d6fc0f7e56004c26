"""Same URL, same text and near-identical copies: one canonical story per cluster."""
