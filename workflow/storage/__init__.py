"""Where cases are kept: the database, its tables and migrations, and the hot path's statements."""
