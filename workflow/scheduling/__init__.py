"""Pure date logic for reporting: the official working-day calendar and reporting periods."""
