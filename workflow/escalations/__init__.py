"""督办 (escalations): the office's list of overdue work, closing items with a note, and the 督办通知单."""
