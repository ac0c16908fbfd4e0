"""The test harness behind noxfile.py: shared helpers (common), the ecosystem sessions and the suite runner."""
