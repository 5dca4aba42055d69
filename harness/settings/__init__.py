"""Step 1, settings: the target, cycles and workload, read and checked before anything runs."""
