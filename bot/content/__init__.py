"""Content that changes while the bot runs: the overlay of examples decided in review (overlay.py), its
YAML patch for the files (patch.py), the process's understanding following it (live.py) and the review
decisions (review.py). See docs/review.md."""
