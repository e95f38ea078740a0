"""``vidact explore``: the ideas of video action recognition as interactive pages, on vidact's own code and models.

A local web app (FastAPI + a static front end in plain JavaScript, canvas and SVG; no CDN, works offline), one
page per idea. Its parts:

* :mod:`.app`: :func:`~.app.create_app` — the static front end, ``/api/pages``, jobs, uploads, each page's
  endpoints under ``/api/<slug>``; errors as ``{"error": "<one line>"}``.
* :mod:`.pages`: the page registry; a page is a module ``pages/<slug>.py`` (endpoints) and
  ``static/pages/<slug>.js`` (its front end), found by discovery.
* :mod:`.context`: :class:`~.context.ExploreContext`, what endpoints share (runs folder, load-once models, jobs,
  uploads), reached with ``Depends(get_context)``.
* :mod:`.jobs`: long work in a background thread with progress and cancel.
* :mod:`.uploads`: uploaded videos, checked by content, kept in a private temporary folder, deleted soon.
* :mod:`.encode`: arrays to what a page draws (frames as PNG data URLs, rounded lists).

FastAPI and uvicorn are the optional extra ``vidact[explore]``; nothing outside this package imports them.
"""
