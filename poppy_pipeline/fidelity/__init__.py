"""Fitting the simulation to a real log, regenerating from the fit, and judging the result against the
log's own noise floor."""
