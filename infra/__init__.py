"""What runs the course rather than teaches it: machinery for scripts, tests and notebooks."""
