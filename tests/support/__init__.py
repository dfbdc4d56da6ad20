"""Helpers shared by tests: local images, engine probes."""
