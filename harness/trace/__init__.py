"""Step 4, trace: collect, parse, analyse, symbols, and the profile cache."""
