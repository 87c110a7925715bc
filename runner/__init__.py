"""The worker process: its Temporal workers, its session slots and its lifecycle."""
