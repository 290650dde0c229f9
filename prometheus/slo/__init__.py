"""Service level objectives as data and the generator that turns them into Prometheus rules."""
