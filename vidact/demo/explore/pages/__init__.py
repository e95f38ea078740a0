"""The explorer's pages: one module each, found by discovery.

A page is a file ``pages/<slug>.py`` that builds an :class:`fastapi.APIRouter` and registers itself, plus its
front end ``static/pages/<slug>.js`` (an ES module exporting ``render(root, api)``); nothing else is edited::

    from fastapi import APIRouter, Depends
    from ..context import ExploreContext, get_context
    from . import Page, register_page

    router = APIRouter()

    @router.get("/data")                                  # served at /api/<slug>/data
    def data(ctx: ExploreContext = Depends(get_context)) -> dict: ...

    register_page(Page(slug="clip_sampling", title="Clip sampling", summary="...", order=9, router=router))

Heavy imports (torch, models) go inside the endpoints, so that the server starts fast.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import threading
from dataclasses import dataclass

from fastapi import APIRouter

__all__ = ["Page", "register_page", "list_pages", "get_page"]

_SLUG = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


@dataclass(frozen=True)
class Page:
    """One page of the explorer.

    Attributes:
        slug: its id, in URLs (``#/<slug>``, ``/api/<slug>/...``) and file names: lower case, digits, ``_``.
        title: the nav's label ("Same middle frame").
        summary: one sentence: what the page shows.
        order: its place in the nav (the issue's page number).
        router: its endpoints, mounted under ``/api/<slug>``.
    """

    slug: str
    title: str
    summary: str
    order: int
    router: APIRouter

    def __post_init__(self) -> None:
        if not _SLUG.match(self.slug):
            raise ValueError(
                f"page slug {self.slug!r}: lower-case letters, digits and '_', starting with a letter"
            )
        if self.slug in ("jobs", "uploads", "pages"):
            raise ValueError(f"page slug {self.slug!r} is taken by the app's own endpoints")

    def to_json(self) -> dict[str, object]:
        """``{"slug", "title", "summary", "order"}``."""
        return {"slug": self.slug, "title": self.title, "summary": self.summary, "order": self.order}


_pages: dict[str, Page] = {}
_owners: dict[str, str] = {}
_lock = threading.Lock()
_discovered = False


def register_page(page: Page) -> Page:
    """Add a page (called by its module at import).

    A module imported again (a reload) replaces its own page; two modules with one slug are an error.

    Raises:
        ValueError: another module registered this slug.
    """
    owner = _caller_module()
    with _lock:
        if page.slug in _owners and _owners[page.slug] != owner:
            raise ValueError(f"page {page.slug!r} is registered by {_owners[page.slug]} already")
        _pages[page.slug] = page
        _owners[page.slug] = owner
    return page


def _caller_module() -> str:
    import sys

    frame = sys._getframe(2)
    return str(frame.f_globals.get("__name__", "?"))


def discover() -> None:
    """Import every module of this package once (each registers its page)."""
    global _discovered
    if _discovered:
        return
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")
    _discovered = True


def list_pages() -> list[Page]:
    """Every page, sorted by ``order`` (then slug); discovers the page modules first."""
    discover()
    with _lock:
        return sorted(_pages.values(), key=lambda p: (p.order, p.slug))


def get_page(slug: str) -> Page:
    """The page with this slug.

    Raises:
        KeyError: no such page.
    """
    discover()
    with _lock:
        return _pages[slug]
