"""Import pages: upload, preview and mapping, progress, batches and rollback."""
