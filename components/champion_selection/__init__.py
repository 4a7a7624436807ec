"""Champion selection: candidates compared on the same held-out data, the simpler kept unless beaten beyond noise."""
