"""Search: the results page with facets, suggestions as you type, and the no-results page."""
