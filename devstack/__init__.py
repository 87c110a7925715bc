"""Running the whole service on one machine with embedded defaults."""
