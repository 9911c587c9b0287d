"""A local stand-in for the Hugging Face Hub, for tests: real HTTP on 127.0.0.1, the routes the
huggingface_hub client calls (model info with file sizes, file HEAD/GET with the Hub's headers),
HTTP Range, gated and missing repos answered as the Hub answers them (X-Error-Code).

It REFUSES any read larger than ``max_read`` bytes (HTTP 403, and the read is recorded in
``refused``), so a test fails if weights are downloaded instead of headers.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse


def _ids(p: Path) -> tuple[int, str, str]:
    """(size, git blob id, LFS sha256) of a file; small files are hashed, large ones (sparse benchmark
    files) get ids from their name and size, as stable as content hashes for a file that does not change."""
    st = p.stat()
    if st.st_size <= 1 << 20:
        data = p.read_bytes()
        return st.st_size, hashlib.sha1(data).hexdigest(), hashlib.sha256(data).hexdigest()
    key = f"{p}:{st.st_size}:{st.st_mtime_ns}".encode()
    return st.st_size, hashlib.sha1(key).hexdigest(), hashlib.sha256(key).hexdigest()


@dataclass
class StandInRepo:
    folder: Path
    gated: bool = False

    @property
    def commit(self) -> str:
        return hashlib.sha1(str(self.folder).encode()).hexdigest()

    def files(self) -> dict[str, Path]:
        return {p.relative_to(self.folder).as_posix(): p for p in sorted(self.folder.rglob("*")) if p.is_file()}


@dataclass
class HubStandIn:
    max_read: int = 256 << 10
    repos: dict[str, StandInRepo] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    bytes_sent: int = 0
    server: ThreadingHTTPServer | None = None

    def add(self, repo_id: str, folder: Path, gated: bool = False) -> None:
        self.repos[repo_id] = StandInRepo(folder, gated)

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> str:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet
                pass

            def do_HEAD(self) -> None:  # noqa: N802
                standin.handle(self, head=True)

            def do_GET(self) -> None:  # noqa: N802
                standin.handle(self, head=False)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self.url

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    # ------------------------------------------------------------------------------------------ routes

    def handle(self, h: BaseHTTPRequestHandler, head: bool) -> None:
        path = unquote(urlparse(h.path).path)
        self.requests.append(f"{h.command} {path} {h.headers.get('Range', '')}")
        info = re.match(r"^/api/models/([^/]+/[^/]+?)(?:/revision/([^/]+))?$", path)
        if info:
            return self.model_info(h, info[1], head)
        resolve = re.match(r"^/([^/]+/[^/]+)/resolve/([^/]+)/(.+)$", path)
        if resolve:
            return self.resolve(h, resolve[1], resolve[3], head)
        self.reply(h, 404, b"not found", {"X-Error-Code": "EntryNotFound"}, head)

    def reply(self, h: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str], head: bool) -> None:
        h.send_response(status)
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if not head:
            h.wfile.write(body)
            self.bytes_sent += len(body)

    def model_info(self, h: BaseHTTPRequestHandler, repo_id: str, head: bool) -> None:
        repo = self.repos.get(repo_id)
        if repo is None:  # the Hub answers 401 for a missing (or private) repo
            return self.reply(h, 401, b'{"error":"Repository not found"}',
                              {"X-Error-Code": "RepoNotFound", "Content-Type": "application/json"}, head)
        siblings = []
        for name, p in repo.files().items():
            size, blob, sha = _ids(p)
            entry = {"rfilename": name, "size": size, "blobId": blob}
            if not name.endswith(".json"):
                entry["lfs"] = {"size": size, "sha256": sha, "pointerSize": 134}
            siblings.append(entry)
        body = json.dumps({"id": repo_id, "modelId": repo_id, "sha": repo.commit, "private": False,
                           "gated": "manual" if repo.gated else False, "siblings": siblings}).encode()
        self.reply(h, 200, body, {"Content-Type": "application/json"}, head)

    def resolve(self, h: BaseHTTPRequestHandler, repo_id: str, filename: str, head: bool) -> None:
        repo = self.repos.get(repo_id)
        if repo is None:
            return self.reply(h, 401, b"Repository not found", {"X-Error-Code": "RepoNotFound"}, head)
        if repo.gated and not (h.headers.get("Authorization") or "").startswith("Bearer hf_"):
            return self.reply(h, 401, b"gated", {"X-Error-Code": "GatedRepo",
                                                 "X-Error-Message": "Access to model is restricted"}, head)
        p = repo.files().get(filename)
        if p is None:
            return self.reply(h, 404, b"Entry not found", {"X-Error-Code": "EntryNotFound",
                                                           "X-Repo-Commit": repo.commit}, head)
        size, blob, sha = _ids(p)
        etag = sha if not filename.endswith(".json") else blob
        headers = {"X-Repo-Commit": repo.commit, "ETag": f'"{etag}"', "Accept-Ranges": "bytes"}
        start, end, status = 0, size, 200
        rng = re.match(r"^bytes=(\d+)-(\d*)$", h.headers.get("Range", ""))
        if rng:
            start = int(rng[1])
            end = min(int(rng[2]) + 1 if rng[2] else size, size)
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
        if head:
            headers["X-Linked-Size"] = str(size)
            h.send_response(status)
            for k, v in headers.items():
                h.send_header(k, v)
            h.send_header("Content-Length", str(end - start))
            h.end_headers()
            return None
        if end - start > self.max_read:
            self.refused.append(f"{filename}: {end - start} bytes")
            return self.reply(h, 403, b"refused: read too large for a header", {}, head)
        with open(p, "rb") as fh:  # only the bytes asked for (files may be sparse and huge)
            fh.seek(start)
            body = fh.read(end - start)
        self.reply(h, status, body, headers, head)
