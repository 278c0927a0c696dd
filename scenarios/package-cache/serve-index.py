"""Serve a folder on 127.0.0.1:8000 the way PyPI serves its files, with a long-lived
Cache-Control header: pip caches only responses that say they may be cached."""

import functools
import http.server
import sys


class Handler(http.server.SimpleHTTPRequestHandler):
    def end_headers(self) -> None:
        self.send_header("Cache-Control", "max-age=365000000, immutable, public")
        super().end_headers()

    def log_message(self, *args: object) -> None:
        pass


server = http.server.ThreadingHTTPServer(
    ("127.0.0.1", 8000), functools.partial(Handler, directory=sys.argv[1]))
server.serve_forever()
