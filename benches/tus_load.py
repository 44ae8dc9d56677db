#!/usr/bin/env python3
"""Many concurrent uploads of one bundle to jcdiag-intake, in one process (benches/replicas.sh).

A lighter stand-in for N `jcdiag submit` processes on a small machine: the same requests
jcdiag sends (crates/client/src/deliver), per upload over its own HTTPS connection:

  POST /v1/cases (Idempotency-Key)  ->  case_id, upload_url
  POST upload_url (tus creation)    ->  Location
  HEAD Location                     ->  Upload-Offset
  PATCH Location (Upload-Checksum: sha256, the whole 6 MiB as one chunk, as jcdiag's
        8 MiB chunks do)            ->  Upload-Offset, Jcdiag-Receipt
  GET Location/receipt              ->  the receipt

and the same reaction to refusals: 408, 409, 429, 5xx and cut connections are retried after
`Retry-After` when the answer has one (a 503 from a replica over --max-concurrent-uploads
always has), else after a capped, jittered backoff; the step starts over from HEAD. The one
difference: PATCH sends `Expect: 100-continue`, so a refused PATCH costs its headers only
(jcdiag sends the body and lets the server cut it off).

Standard library only. Prints one JSON line: counts and timings.
Usage: tus_load.py --urls URL,URL --token T --ca CA --bundle ZIP --case CASE_JSON --count N
"""

import argparse
import asyncio
import base64
import hashlib
import json
import random
import ssl
import sys
import time
import uuid
from urllib.parse import urlsplit

DEADLINE_S = 900


_digests = {}


def chunk_digest(bundle, offset):
    """Upload-Checksum's value for the bundle from `offset` on (every upload sends the same
    bundle: hashed once per offset, not once per attempt)."""
    if offset not in _digests:
        _digests[offset] = base64.b64encode(hashlib.sha256(bundle[offset:]).digest()).decode()
    return _digests[offset]


class Transient(Exception):
    def __init__(self, message, wait=None):
        super().__init__(message)
        self.wait = wait


class Refused(Exception):
    pass


class Conn:
    """One keep-alive HTTP/1.1 connection over TLS."""

    def __init__(self, url, ctx):
        parts = urlsplit(url)
        self.host, self.port, self.ctx = parts.hostname, parts.port, ctx
        self.hostport = f"{parts.hostname}:{parts.port}"
        self.reader = self.writer = None

    async def open(self):
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(
                self.host, self.port, ssl=self.ctx, limit=1 << 16
            )

    def close(self):
        if self.writer is not None:
            self.writer.transport.abort()
        self.reader = self.writer = None

    async def read_head(self):
        line = await self.reader.readline()
        if not line:
            raise ConnectionError("connection closed")
        status = int(line.split()[1])
        headers = {}
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        return status, headers

    async def request(self, method, path, headers, body=b"", expect_continue=False):
        await self.open()
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.hostport}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        if body or method in ("POST", "PATCH"):
            lines.append(f"Content-Length: {len(body)}")
        if expect_continue:
            lines.append("Expect: 100-continue")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        if expect_continue:
            await self.writer.drain()
            status, answer = await self.read_head()
            if status != 100:
                # Refused before the body: the server will not read this connection's
                # unsent body, so it is not reusable.
                result = await self.finish(method, status, answer)
                self.close()
                return result
        view = memoryview(body)
        for start in range(0, len(view), 1 << 18):
            self.writer.write(view[start : start + (1 << 18)])
            await self.writer.drain()
        await self.writer.drain()
        status, answer = await self.read_head()
        return await self.finish(method, status, answer)

    async def finish(self, method, status, headers):
        length = int(headers.get("content-length", "0"))
        if method == "HEAD" or status in (204, 304):
            length = 0
        data = await self.reader.readexactly(length) if length else b""
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, headers, data


def classify(status, headers, data):
    wait = headers.get("retry-after")
    wait = float(wait) if wait and wait.isdigit() else None
    try:
        code = json.loads(data).get("error", {}).get("code", "") if data else ""
    except (ValueError, AttributeError):
        code = ""
    if status in (408, 429, 460) or status >= 500:
        raise Transient(f"{status} {code}", wait)
    if status == 409:
        raise Transient(f"409 {code}", wait if wait is not None else 0.5)
    raise Refused(f"{status} {code}: {data[:200]!r}")


class Upload:
    def __init__(self, n, url, args, ctx, bundle, digest, case):
        self.n, self.url, self.args, self.ctx = n, url, args, ctx
        self.bundle, self.digest, self.case = bundle, digest, case
        self.key = str(uuid.uuid4())
        self.upload_url = self.location = None
        self.overloaded = self.attempts = 0
        self.auth = {"Authorization": f"Bearer {args.token}"}

    async def step(self, conn):
        if self.upload_url is None:
            body = json.dumps(
                {"case": self.case, "bundle": {"sha256": self.hex, "size": len(self.bundle)}}
            ).encode()
            status, h, data = await conn.request(
                "POST", "/v1/cases",
                {**self.auth, "Content-Type": "application/json", "Idempotency-Key": self.key},
                body,
            )
            if status not in (200, 201):
                classify(status, h, data)
            self.upload_url = json.loads(data)["upload_url"]
            return None
        if self.location is None:
            meta = "sha256 {},filename {}".format(
                base64.b64encode(self.hex.encode()).decode(),
                base64.b64encode(f"{self.key}.zip".encode()).decode(),
            )
            status, h, data = await conn.request(
                "POST", urlsplit(self.upload_url).path,
                {**self.auth, "Tus-Resumable": "1.0.0", "Upload-Length": str(len(self.bundle)),
                 "Upload-Metadata": meta},
            )
            if status != 201:
                classify(status, h, data)
            self.location = urlsplit(h["location"]).path
            return None
        status, h, data = await conn.request(
            "HEAD", self.location, {**self.auth, "Tus-Resumable": "1.0.0"}
        )
        if status not in (200, 204):
            classify(status, h, data)
        offset = int(h["upload-offset"])
        if offset < len(self.bundle):
            chunk = self.bundle[offset:]
            digest = chunk_digest(self.bundle, offset)
            status, h, data = await conn.request(
                "PATCH", self.location,
                {**self.auth, "Tus-Resumable": "1.0.0",
                 "Content-Type": "application/offset+octet-stream",
                 "Upload-Offset": str(offset), "Upload-Checksum": f"sha256 {digest}"},
                chunk, expect_continue=True,
            )
            if status == 503:
                self.overloaded += 1
            if status != 204:
                classify(status, h, data)
        status, h, data = await conn.request(
            "GET", self.location + "/receipt", self.auth
        )
        if status != 200:
            classify(status, h, data)
        return json.loads(data)

    async def run(self, deadline):
        self.hex = self.digest
        conn = Conn(self.url, self.ctx)
        attempt = 0
        try:
            while True:
                try:
                    receipt = await self.step(conn)
                    if receipt is not None:
                        return receipt
                    continue
                except Transient as e:
                    wait, why = e.wait, str(e)
                except (ConnectionError, OSError, asyncio.IncompleteReadError, ssl.SSLError) as e:
                    conn.close()
                    wait, why = None, f"connection: {e!r}"
                self.attempts += 1
                if wait is None:
                    wait = random.uniform(0, min(8.0, 0.25 * 2 ** min(attempt, 16)))
                attempt += 1
                if time.monotonic() + wait > deadline:
                    raise Refused(f"deadline reached; last error: {why}")
                await asyncio.sleep(wait)
        finally:
            conn.close()


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--urls", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--ca", required=True)
    p.add_argument("--bundle", required=True)
    p.add_argument("--case", required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--first", type=int, default=0, help="index of the first upload (replica choice)")
    args = p.parse_args()
    ctx = ssl.create_default_context(cafile=args.ca)
    with open(args.bundle, "rb") as f:
        bundle = f.read()
    with open(args.case) as f:
        case = json.load(f)
    digest = hashlib.sha256(bundle).hexdigest()
    urls = args.urls.split(",")
    uploads = [
        Upload(i, urls[(args.first + i) % len(urls)], args, ctx, bundle, digest, case)
        for i in range(args.count)
    ]
    start = time.monotonic()
    results = await asyncio.gather(
        *(u.run(start + DEADLINE_S) for u in uploads), return_exceptions=True
    )
    failures = [r for r in results if isinstance(r, BaseException)]
    receipts = {r["receipt_id"] for r in results if isinstance(r, dict)}
    print(json.dumps({
        "uploads": args.count,
        "receipts": len(receipts),
        "failed": len(failures),
        "first_failure": repr(failures[0]) if failures else None,
        "overloaded_answers_seen": sum(u.overloaded for u in uploads),
        "retries": sum(u.attempts for u in uploads),
        "seconds": round(time.monotonic() - start, 1),
    }))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
