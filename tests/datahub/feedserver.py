"""A real HTTP server on 127.0.0.1 (a thread) serving the feed fixtures and their misbehaving variants."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _gbk(declared: bool) -> bytes:
    text = (FIXTURES / "rss_valid.xml").read_text(encoding="utf-8")
    if not declared:
        text = text.replace('<?xml version="1.0" encoding="utf-8"?>', '<?xml version="1.0"?>')
    else:
        text = text.replace('encoding="utf-8"', 'encoding="GBK"')
    return text.encode("gbk")


def _huge() -> bytes:
    head, tail = (
        b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>huge</title>',
        b"</channel></rss>",
    )
    item = "<item><title>大文件条目</title><description>" + "填充" * 500 + "</description></item>"
    return head + item.encode() * 2500 + tail  # ~7.6 MB


def _api_page(page: int) -> dict:
    if page > 3:
        return {"data": {"posts": []}}
    return {
        "data": {
            "posts": [
                {
                    "pid": f"p{page}-{i}",
                    "headline": f"第{page}页帖子{i}：临港区停车难",
                    "content": {"text": f"临港区菜市场门口乱停车，第{page}页第{i}条"},
                    "user": {"nick": f"u{i}"},
                    "ts": 1795400000 + page * 100 + i,
                    "link": f"https://api.example/p/{page}/{i}",
                }
                for i in range(2)
            ]
        }
    }


class Handler(BaseHTTPRequestHandler):
    hits: dict[str, int] = {}
    times: dict[str, list[float]] = {}

    def log_message(self, *args):  # keep the test output clean
        pass

    def _send(self, status: int, body: bytes, ctype: str = "application/rss+xml", headers: dict | None = None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if body:
            self.wfile.write(body)

    def do_GET(self):  # noqa: N802 - http.server's API
        path, _, query = self.path.partition("?")
        Handler.hits[path] = Handler.hits.get(path, 0) + 1
        Handler.times.setdefault(path, []).append(time.monotonic())
        params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
        if path == "/valid.xml":
            if self.headers.get("If-None-Match") == '"v1"':
                return self._send(304, b"", headers={"ETag": '"v1"'})
            return self._send(
                200,
                (FIXTURES / "rss_valid.xml").read_bytes(),
                headers={"ETag": '"v1"', "Last-Modified": "Mon, 23 Nov 2026 02:00:00 GMT"},
            )
        if path == "/atom.xml":
            return self._send(200, (FIXTURES / "atom_valid.xml").read_bytes(), "application/atom+xml")
        if path == "/malformed.xml":
            return self._send(200, (FIXTURES / "rss_malformed.xml").read_bytes())
        if path == "/not-a-feed":
            return self._send(200, (FIXTURES / "not_a_feed.html").read_bytes(), "text/html")
        if path == "/gbk-declared.xml":
            return self._send(200, _gbk(True), "application/xml; charset=GBK")
        if path == "/gbk-undeclared.xml":
            return self._send(200, _gbk(False), "application/xml")
        if path == "/gbk-mislabelled.xml":
            return self._send(200, _gbk(False), "application/xml; charset=utf-8")
        if path == "/huge.xml":
            return self._send(200, _huge())
        if path.startswith("/redirect/"):
            n = int(path.rsplit("/", 1)[1])
            if n == 0:
                return self._send(302, b"", headers={"Location": "/valid.xml"})
            return self._send(302, b"", headers={"Location": f"/redirect/{n - 1}"})
        if path == "/loop":
            return self._send(302, b"", headers={"Location": "/loop"})
        if path == "/slow.xml":
            time.sleep(2.0)
            return self._send(200, (FIXTURES / "rss_valid.xml").read_bytes())
        if path == "/flaky.xml":
            if Handler.hits[path] == 1:
                return self._send(503, b"busy", "text/plain")
            return self._send(200, (FIXTURES / "rss_valid.xml").read_bytes())
        if path == "/gone.xml":
            return self._send(404, b"no", "text/plain")
        if path == "/api/pages":
            return self._send(200, json.dumps(_api_page(int(params.get("page", "1")))).encode(), "application/json")
        if path == "/api/next":
            cursor = int(params.get("cursor", "1"))
            body = _api_page(cursor)
            if cursor < 3:
                body["links"] = {"next": f"/api/next?cursor={cursor + 1}"}
            return self._send(200, json.dumps(body).encode(), "application/json")
        if path == "/api/notjson":
            return self._send(200, b"<html>oops</html>", "text/html")
        return self._send(404, b"not found", "text/plain")


class FeedServer:
    def __init__(self):
        Handler.hits, Handler.times = {}, {}
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def hits(self) -> dict[str, int]:
        return Handler.hits

    @property
    def times(self) -> dict[str, list[float]]:
        return Handler.times

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
