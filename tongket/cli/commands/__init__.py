"""One module per group of operator commands."""
