"""Tasks: lists, search, quick add, edit, done, delete with undo."""
