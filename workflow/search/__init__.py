"""Search across tasks, departments and reports (workflow.search.services.search), and its page."""
