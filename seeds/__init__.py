"""Initial reference data and the demo data set."""
