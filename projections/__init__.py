"""Read models built from the log; each can be dropped and rebuilt from it at any time."""
