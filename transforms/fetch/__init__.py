"""Article pages over HTTP (or replayed from WARC), politely; same-URL entries collapsed."""
