#!/usr/bin/env python3
"""REGISTER one user at a proxy over UDP from a given local port, answering a digest challenge.

bench/core.sh runs it from the UAS's port before the UAS starts, so that the binding's
Contact (and the source a registrar records) is the UAS. SIPp 3.6 (Debian bookworm) cannot do
this step itself against cpm: its [authentication] only answers MD5 and takes the first
WWW-Authenticate, which cpm makes SHA-256 (RFC 8760 order). This helper picks SHA-256 or MD5.

Usage: register.py PROXY_HOST:PORT LOCAL_PORT USER DOMAIN PASSWORD [EXPIRES]
Exit 0 on 200; 1 with the final status line (or "no answer") on stderr otherwise.
"""

import hashlib
import os
import re
import socket
import sys


def digest_header(challenge, method, uri, user, password):
    params = {k.lower(): q or t
              for k, q, t in re.findall(r'(\w+)\s*=\s*(?:"([^"]*)"|([^\s,]+))', challenge)}
    algorithm = params.get("algorithm", "MD5")
    h = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}[algorithm.upper()]

    def hx(s):
        return h(s.encode()).hexdigest()

    realm, nonce = params["realm"], params["nonce"]
    ha1 = hx(f"{user}:{realm}:{password}")
    ha2 = hx(f"{method}:{uri}")
    fields = [f'username="{user}"', f'realm="{realm}"', f'nonce="{nonce}"', f'uri="{uri}"']
    if "qop" in params:
        cnonce, nc = os.urandom(8).hex(), "00000001"
        response = hx(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
        fields += ["qop=auth", f"nc={nc}", f'cnonce="{cnonce}"']
    else:
        response = hx(f"{ha1}:{nonce}:{ha2}")
    fields += [f'response="{response}"', f"algorithm={algorithm}"]
    if "opaque" in params:
        fields.append(f'opaque="{params["opaque"]}"')
    return "Digest " + ", ".join(fields)


def main():
    proxy, local_port, user, domain, password = sys.argv[1:6]
    expires = sys.argv[6] if len(sys.argv) > 6 else "3600"
    host, port = proxy.rsplit(":", 1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", int(local_port)))
    sock.settimeout(1.0)
    call_id = os.urandom(8).hex() + "@bench"
    tag = os.urandom(4).hex()
    uri = f"sip:{domain}"
    auth = None
    for cseq in range(1, 4):
        branch = "z9hG4bK" + os.urandom(8).hex()
        lines = [
            f"REGISTER {uri} SIP/2.0",
            f"Via: SIP/2.0/UDP 127.0.0.1:{local_port};branch={branch};rport",
            "Max-Forwards: 70",
            f"From: <sip:{user}@{domain}>;tag={tag}",
            f"To: <sip:{user}@{domain}>",
            f"Call-ID: {call_id}",
            f"CSeq: {cseq} REGISTER",
            f"Contact: <sip:{user}@127.0.0.1:{local_port}>",
            f"Expires: {expires}",
        ]
        if auth:
            lines.append(auth)
        request = ("\r\n".join(lines + ["Content-Length: 0", "", ""])).encode()
        status = None
        for _ in range(4):  # a few retransmissions, 1 s apart
            sock.sendto(request, (host, int(port)))
            try:
                while True:
                    data = sock.recv(65535).decode(errors="replace")
                    if branch in data and not data.startswith("SIP/2.0 1"):
                        break
            except socket.timeout:
                continue
            status = data.split("\r\n", 1)[0]
            break
        if status is None:
            print("no answer to REGISTER", file=sys.stderr)
            return 1
        code = int(status.split()[1])
        if code == 200:
            return 0
        if code in (401, 407) and auth is None:
            name = "WWW-Authenticate" if code == 401 else "Proxy-Authenticate"
            challenges = [l.split(":", 1)[1].strip() for l in data.split("\r\n")
                          if l.lower().startswith(name.lower() + ":")]
            usable = [c for c in challenges
                      if re.search(r'algorithm\s*=\s*"?(MD5|SHA-256)"?(,|\s|$)', c, re.I)
                      or "algorithm" not in c.lower()]
            if not usable:
                print(f"{status} (no MD5 or SHA-256 challenge)", file=sys.stderr)
                return 1
            header = "Authorization" if code == 401 else "Proxy-Authorization"
            auth = f"{header}: " + digest_header(usable[0], "REGISTER", uri, user, password)
            continue
        print(status, file=sys.stderr)
        return 1
    print(status, file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
