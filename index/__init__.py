"""storybot's index library: articles → sentences → passages → vectors → search.

Nothing here knows about Telegram. The package itself imports nothing, so that importing one
light module (`index.errors`, `index.settings`) does not load FAISS and numpy; import what you
need from its module (`from index.store import load_store`).
"""
