"""The Exchange page (FastAPI app mounted by ``plugins/exchange_plugin.py``); see ``app.py``."""
