"""总览: the overview of a plan for the office, leaders and admins: figures, lights per task, per area and
per department (the light rule is lights.py)."""
