"""Language identification with a confidence, ``und`` when unsure."""
