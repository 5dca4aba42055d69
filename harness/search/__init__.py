"""Step 6, search: the smallest kernel that still qualifies (the size_search cycle)."""
