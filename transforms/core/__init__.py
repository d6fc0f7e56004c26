"""Records, on-disk schema, URLs and window settings: the types every stage shares."""
