"""Working days on the office calendar, reporting periods and their deadlines."""
