"""deeprnn serve: a local web page over one trained run, and the JSON API it uses.

    deeprnn serve runs/demo          # then open http://127.0.0.1:8000/

Layers, each over the one below: ``command.py`` (the CLI) -> ``server.py`` (socket, uvicorn) ->
``app.py`` (Starlette routes, streaming, errors) -> ``service.py`` (what each request computes, plain
Python over deeprnn.lm) and ``requests.py`` (request checks and limits). The page is ``static/``.
Needs the ``serve`` extra: ``pip install 'deeprnn[serve]'``.
"""
