"""Real rows in: interaction and action logs (files), the app's database, every rejected row quarantined
with a reason that names its line (or key) and column."""
