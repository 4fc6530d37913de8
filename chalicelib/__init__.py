"""The export service's library: everything the Chalice routes and the worker call into."""
