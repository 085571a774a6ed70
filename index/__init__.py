"""storybot's index library: articles → sentences → passages → vectors → search.

Nothing here knows about Telegram.
"""

from index.articles import Article, load_articles
from index.builder import build_index
from index.search import Hit, SearchResult, search
from index.store import Store, load_store

__all__ = [
    "Article",
    "Hit",
    "SearchResult",
    "Store",
    "build_index",
    "load_articles",
    "load_store",
    "search",
]
