"""The revisions, oldest first (0001_base is the schema qscript made before migrations)."""
