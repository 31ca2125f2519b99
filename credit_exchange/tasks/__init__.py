"""Task bodies of the DAGs: each opens its connections by id and makes one call into the core.

One module per DAG (or family of DAGs). Kept apart from ``dags/`` so that DAG
files stay cheap to parse (nothing here is imported until a task runs) and so
every body can be run and tested without a scheduler.
"""
