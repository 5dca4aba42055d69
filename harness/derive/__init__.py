"""Step 5, derive: what a candidate adds to its parent (trim, prune_syscalls, ...)."""
