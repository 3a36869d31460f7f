"""WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi ...`."""
from workflow import create_app

app = create_app()
