"""What every domain shares: paths, CSV tables, threads, memory settings, random streams, the run lock,
stable codes, user samples and the bootstrap over users."""
