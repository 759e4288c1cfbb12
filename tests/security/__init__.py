"""The trust boundary: what the server does with index files and settings it did not write."""
