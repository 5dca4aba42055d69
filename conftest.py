"""kqual's pytest wiring is the installed plugin, harness/plugin.py (entry point `kqual`)."""
