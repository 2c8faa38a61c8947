"""Services take a session, change things, commit once, and raise Invalid / NotFound / NotAllowed."""
