"""Database backends of the project (Django finds a backend by its package name)."""
