"""What drives a run: planning, the pipeline steps after collection, recovery of stuck work, retention."""
