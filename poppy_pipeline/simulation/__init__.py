"""The simulated world of seed 000: settings, the catalog, users, and their interactions day by day,
with the measures of the patterns the seed claims."""
