//! Storage for coursetasks: one driver interface, SQLite and PostgreSQL implementations.
