"""Step 6, report: the run record, the selection, bloat."""
