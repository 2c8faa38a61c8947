"""Content items: the item page, downloads, and the managers' library."""
