"""Build stage: one agreement through review, render and PDF (`pipeline`); many in parallel on one engine (`batch`)."""
