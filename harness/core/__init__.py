"""Shared plumbing: errors, paths, progress, subprocesses, fingerprints, stages."""
