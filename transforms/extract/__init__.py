"""Main text and metadata from the page, then the residue extraction leaves behind."""
