#!/usr/bin/env python3
"""A fake cloud instance metadata service for tripline's end-to-end test.

Serves plausible, obviously fake answers for the AWS (IMDSv1 and IMDSv2), Azure and GCP paths that the
T1552.005 behaviours request. Standard library only. Meant to run inside a throw-away network namespace
(see imds_real_auditd.sh), bound to 169.254.169.254:80 (and [fd00:ec2::254]:80), or with --plain as a
neutral HTTP server on loopback. No credential here is real.
"""

import argparse
import json
import secrets
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROLE = "tripline-e2e-role"
TOKENS = set()


def aws_credentials():
    return {
        "Code": "Success",
        "LastUpdated": "2024-05-06T07:08:09Z",
        "Type": "AWS-HMAC",
        "AccessKeyId": "ASIAFAKEFAKEFAKEFAKE",
        "SecretAccessKey": "fake/secret/for/tripline/e2e/tests/only000",
        "Token": "FAKE-SESSION-TOKEN-" + "0" * 40,
        "Expiration": "2099-01-01T00:00:00Z",
    }


class Handler(BaseHTTPRequestHandler):
    server_version = "fake-imds/1"
    plain = False

    def log_message(self, fmt, *args):  # one short line per request on stderr
        sys.stderr.write("fake_imds: %s %s\n" % (self.address_string(), fmt % args))

    def reply(self, code, body, ctype="text/plain"):
        data = body if isinstance(body, bytes) else (
            json.dumps(body, indent=2).encode() if not isinstance(body, str) else body.encode())
        if not isinstance(body, (str, bytes)):
            ctype = "application/json"
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_PUT(self):
        if self.plain:
            return self.reply(405, "method not allowed\n")
        if self.path == "/latest/api/token":
            ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
            if not ttl or not ttl.strip().isdigit():
                return self.reply(400, "missing or bad X-aws-ec2-metadata-token-ttl-seconds\n")
            tok = "AQAEA" + secrets.token_urlsafe(30)
            TOKENS.add(tok)
            return self.reply(200, tok)
        return self.reply(404, "not found\n")

    def do_GET(self):
        path, _, query = self.path.partition("?")
        if self.plain:
            return self.reply(200, "ok\n")
        # --- AWS (IMDSv1 allowed; a token, when sent, must be one we issued)
        if path.startswith("/latest/"):
            tok = self.headers.get("X-aws-ec2-metadata-token")
            if tok is not None and tok not in TOKENS:
                return self.reply(401, "unauthorized\n")
            if path == "/latest/meta-data/iam/security-credentials/":
                return self.reply(200, ROLE)
            if path == "/latest/meta-data/iam/security-credentials/" + ROLE:
                return self.reply(200, aws_credentials())
            if path == "/latest/meta-data/instance-id":
                return self.reply(200, "i-0fake0fake0fake0")
            if path == "/latest/meta-data/":
                return self.reply(200, "ami-id\ninstance-id\niam/\nlocal-ipv4\n")
            return self.reply(404, "not found\n")
        # --- Azure
        if path.startswith("/metadata/"):
            if self.headers.get("Metadata", "").lower() != "true":
                return self.reply(400, {"error": "Bad request. Required metadata header not specified"})
            if path == "/metadata/identity/oauth2/token":
                return self.reply(200, {
                    "access_token": "eyFAKE.tripline.e2e",
                    "expires_in": "86399",
                    "resource": "https://management.azure.com/",
                    "token_type": "Bearer",
                })
            if path == "/metadata/instance":
                return self.reply(200, {"compute": {"vmId": "00000000-0000-0000-0000-000000000000",
                                                    "location": "nowhere"}})
            return self.reply(404, {"error": "not found"})
        # --- GCP
        if path.startswith("/computeMetadata/"):
            if self.headers.get("Metadata-Flavor") != "Google":
                return self.reply(403, "Missing Metadata-Flavor:Google header.\n")
            if path == "/computeMetadata/v1/instance/service-accounts/default/token":
                return self.reply(200, {"access_token": "ya29.FAKE-tripline-e2e",
                                        "expires_in": 3599, "token_type": "Bearer"})
            if path == "/computeMetadata/v1/instance/id":
                return self.reply(200, "1234567890")
            return self.reply(404, "not found\n")
        if path == "/healthz":
            return self.reply(200, "ok\n")
        return self.reply(404, "not found\n")


class V6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bind", default="169.254.169.254")
    ap.add_argument("--port", type=int, default=80)
    ap.add_argument("--plain", action="store_true", help="answer 'ok' to every GET (a neutral server)")
    a = ap.parse_args()
    Handler.plain = a.plain
    cls = V6Server if ":" in a.bind else ThreadingHTTPServer
    srv = cls((a.bind, a.port), Handler)
    sys.stderr.write("fake_imds: listening on %s port %d%s\n" % (a.bind, a.port, " (plain)" if a.plain else ""))
    sys.stderr.flush()
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
