"""Champions: their deal room, and the invitations reps send to make a buyer one."""
