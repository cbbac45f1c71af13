"""Generated Arabic article text for tests and benchmarks that need many distinct articles."""
from __future__ import annotations

import http.server
import random
import socket
import threading

VOCAB = ("الحكومة الوزير المشروع المدينة القطاع الخاص الخطة التنمية الاقتصاد التعليم الصحة النقل الطاقة "
         "المياه الزراعة السياحة الثقافة الرياضة التقنية الاستثمار المواطنين المقيمين الخدمات المرحلة "
         "الدراسة التنفيذ الاجتماع المسؤول المصادر الإعلان الأعوام المقبلة تحسين تطوير دعم توسيع إطلاق "
         "افتتاح مناقشة متابعة البلدية الجامعة المستشفى الميناء المطار الطريق الحديقة المكتبة السوق").split()


def prose(n: int, paragraphs: int = 3, words: int = 40) -> list[str]:
    """Paragraphs of article ``n``: its own words, so no two articles share a block of text (a
    learned site template strips what pages share, numbers aside)."""
    rng = random.Random(n)
    return [" ".join(rng.choice(VOCAB) for _ in range(words)) + "." for _ in range(paragraphs)]


class SiteHandler(http.server.BaseHTTPRequestHandler):
    """Base for the local news sites of the tests and benchmarks: keep-alive, no log noise.

    Subclasses write ``do_GET`` and answer with ``self.send(status, body, content_type, **headers)``.
    """

    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        # Headers and body go out in two writes: without this, Nagle + delayed ACK add 40 ms to
        # every keep-alive answer, and latency figures measure TCP instead of the archiver.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self, status: int, body: bytes, content_type: str, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def serve(handler: type[http.server.BaseHTTPRequestHandler], host: str = "127.0.0.1",
          port: int = 0) -> http.server.ThreadingHTTPServer:
    """A threaded server for ``handler`` on ``host``, serving from a daemon thread."""
    server = http.server.ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    # Polled every 0.05 s, not the default 0.5 s: shutdown() waits for the next poll, and the
    # tests shut a server down each (0.5 s a test in teardown, ~17 s a suite).
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


def serve_files(files: dict[str, bytes], xml_type: str = "application/xml") -> http.server.ThreadingHTTPServer:
    """A server of ``files`` ({path: body}, filled in after it starts: bodies name its port), a
    404 for any other path; a .gz path is served as gzip, any other as ``xml_type``."""
    class Handler(SiteHandler):
        def do_GET(self):
            body = files.get(self.path)
            if body is None:
                return self.send(404, b"none", "text/plain")
            self.send(200, body, "application/x-gzip" if self.path.endswith(".gz") else xml_type)

    return serve(Handler)


def article(n: int, title: str, text: str, published: str | None = None, site: str = "gulf"):
    """A record as extraction would give it, for tests that fill an archive directly."""
    import hashlib

    from scraper.models import Article

    return Article(url=f"https://news.example.ae/a/{n}", site=site, title=title, text=text,
                   published=published, content_hash=hashlib.sha256(f"{title}\n{text}".encode()).hexdigest())


def ids(hits) -> list[int]:
    """The archive ids of search hits, in order."""
    return [hit.id for hit in hits]


def hit_of(hits, n: int):
    """The search hit of ``article(n, ...)`` (found by its URL), or None."""
    url = article(n, "", "").url
    return next((hit for hit in hits if hit.url == url), None)


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, dead but not yet waited for, does not)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
