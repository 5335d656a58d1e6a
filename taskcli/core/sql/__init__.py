"""Where PostgreSQL and SQLite differ: the SQL expressions the domain code asks for by name."""
