#!/usr/bin/env python3
"""Writes the generated part of the seed corpora, tests/fuzz/corpus/fuzz_<name>/.

The hand-written seeds next to them stay as they are; every file this script
writes is named g_* and is rewritten on each run, so the script is the record
of how they were made (run it from anywhere: python3 tests/fuzz/seeds.py).
The seeds are valid inputs of each parser plus the edge cases around its
limits, and some inputs far over libFuzzer's 4 KB default length (large
documents, long frame streams, deep nesting), so that the long runs
(make fuzz-long, -max_len 1 MiB) start from big inputs as well as small ones.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
MASK = b"\x37\xfa\x21\x3d"


def out(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "g_" + name), "wb") as f:
        f.write(data)


def clean(target):
    d = os.path.join(HERE, "corpus", target)
    for f in os.listdir(d) if os.path.isdir(d) else []:
        if f.startswith("g_"):
            os.remove(os.path.join(d, f))


# ---- HTTP request heads (HTTP_MAX_HEAD 8192, HTTP_MAX_HEADERS 64) ----

def http_seeds():
    t = "fuzz_http"
    key = "dGhlIHNhbXBsZSBub25jZQ=="
    base = ("GET /wschat?room=lobby&name=al%20ice HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
            "Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n")
    out(t, "browser", base + "Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, wschat\r\n"
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\nPragma: no-cache\r\n\r\n")
    out(t, "messaging", base.replace("/wschat?room=lobby&name=al%20ice", "/messaging?client_id=m1") + "\r\n")
    out(t, "pipelined_frame", base + "\r\n" + "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58")
    # A head just under the limit, and one just over it.
    pad = 8192 - len(base) - len("Cookie: \r\n\r\n")
    out(t, "head_8192", base + "Cookie: " + "c" * pad + "\r\n\r\n")
    out(t, "head_8193", base + "Cookie: " + "c" * (pad + 1) + "\r\n\r\n")
    out(t, "head_huge_no_end", base + "X-Long: " + "x" * 20000)
    many = "".join(f"X-H{i}: {i}\r\n" for i in range(64 - 6))
    out(t, "headers_64", base + many + "\r\n")
    out(t, "headers_65", base + many + "X-One-More: 1\r\n\r\n")
    out(t, "bad_version", base.replace("Version: 13", "Version: 8") + "\r\n")
    out(t, "no_key", base.replace(f"Sec-WebSocket-Key: {key}\r\n", "") + "\r\n")
    out(t, "short_key", base.replace(key, "c2hvcnQ=") + "\r\n")
    out(t, "dup_key", base + f"Sec-WebSocket-Key: {key}\r\n\r\n")
    out(t, "absolute_target", base.replace("/wschat?room=lobby&name=al%20ice", "http://h/echo") + "\r\n")
    out(t, "asterisk", "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n")
    out(t, "head_method", "HEAD /echo HTTP/1.1\r\nHost: h\r\n\r\n")
    out(t, "empty_values", "GET /echo HTTP/1.1\r\nHost:\r\nUpgrade:   \r\nConnection:\t\r\n\r\n")
    out(t, "bad_header_name", "GET /echo HTTP/1.1\r\nHo st: h\r\nX\x01: y\r\n: nameless\r\n\r\n")
    out(t, "nul_in_value", "GET /echo HTTP/1.1\r\nHost: h\x00evil\r\n\r\n")
    out(t, "high_bytes", "GET /\xc3\xa9\xff HTTP/1.1\r\nHost: \xff\xfe\r\n\r\n")
    out(t, "query_escapes", "GET /wschat?room=%41%4a%zz%&name=%c3%bc+x&room=second&=&&a HTTP/1.1\r\nHost: h\r\n\r\n")
    out(t, "query_long", "GET /wschat?room=" + "%41" * 2000 + "&name=" + "n" * 100 + " HTTP/1.1\r\nHost: h\r\n\r\n")
    out(t, "http_1_9", "GET / HTTP/1.9\r\nHost: h\r\n\r\n")
    out(t, "http_0_9", "GET /\r\n\r\n")
    out(t, "lf_cr_mix", "GET /echo HTTP/1.1\n\rHost: h\r\n\n")
    out(t, "spaces", "GET  /echo  HTTP/1.1\r\nHost : h\r\n\r\n")
    out(t, "proto_tokens", base + "Sec-WebSocket-Protocol: ,, wschat ,x\r\nSec-WebSocket-Protocol: wschat\r\n\r\n")
    out(t, "connection_tokens", base.replace("keep-alive, Upgrade", "upgradex, ,UPGRADE,") + "\r\n")


# ---- client WebSocket frames (the target's first byte: max message and echo) ----

def frame(op, payload=b"", fin=True, mask=True, rsv=0, len_form=None):
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload)
    b0 = (0x80 if fin else 0) | rsv << 4 | op
    m = 0x80 if mask else 0
    form = len_form or ("7" if n < 126 else "16" if n < 65536 else "64")
    if form == "7":
        h = bytes([b0, m | n])
    elif form == "16":
        h = bytes([b0, m | 126]) + struct.pack(">H", n)
    else:
        h = bytes([b0, m | 127]) + struct.pack(">Q", n)
    if not mask:
        return h + payload
    return h + MASK + bytes(c ^ MASK[i % 4] for i, c in enumerate(payload))


def close(code=None, reason=b""):
    return frame(8, b"" if code is None else struct.pack(">H", code) + reason)


def frame_seeds():
    t = "fuzz_frame"
    big, echo = 0xFF, 0xFF        # max message 508, echo on
    quiet = 0xFE                  # max 508, echo off
    out(t, "text_echo", bytes([echo]) + frame(1, "hello") + frame(2, b"\x00\xff") + close(1000, b"bye"))
    out(t, "empty_frames", bytes([echo]) + frame(1) + frame(2) + frame(9) + frame(10) + frame(8))
    out(t, "len_125_126_127", bytes([echo]) + frame(2, b"a" * 125) + frame(2, b"b" * 126) + frame(2, b"c" * 127))
    out(t, "max_exact", bytes([big]) + frame(1, "x" * 508))
    out(t, "max_plus_one", bytes([big]) + frame(1, "x" * 509))
    out(t, "fragments_at_max", bytes([echo]) + frame(1, "a" * 254, fin=False) + frame(9, "p")
        + frame(0, "b" * 254) + close(1000))
    out(t, "fragments_over_max", bytes([big]) + frame(2, b"a" * 300, fin=False) + frame(0, b"b" * 300))
    out(t, "nonminimal_16", bytes([echo]) + frame(1, "short", len_form="16"))
    out(t, "nonminimal_64", bytes([echo]) + frame(1, "short", len_form="64") + frame(2, b"z" * 200, len_form="64"))
    out(t, "len64_top_bit", bytes([echo]) + bytes([0x82, 0xFF]) + b"\x80" + b"\x00" * 7 + MASK + b"abcd")
    out(t, "len64_huge", bytes([echo]) + bytes([0x82, 0xFF]) + struct.pack(">Q", 1 << 40) + MASK + b"abcd")
    out(t, "unmasked", bytes([echo]) + frame(1, "hi", mask=False))
    out(t, "rsv_bits", bytes([echo]) + frame(1, "hi", rsv=4) + frame(1, "hi", rsv=1))
    out(t, "reserved_opcodes", bytes([echo]) + frame(3, "x") + frame(0xB, "y"))
    out(t, "ping_fragmented", bytes([echo]) + frame(9, "p", fin=False))
    out(t, "ping_126", bytes([echo]) + frame(9, b"p" * 126))
    out(t, "ping_125_pong", bytes([echo]) + frame(9, b"p" * 125) + frame(10, b"q" * 125) + frame(1, "after"))
    out(t, "cont_first", bytes([echo]) + frame(0, "orphan"))
    out(t, "text_in_text", bytes([echo]) + frame(1, "a", fin=False) + frame(1, "b"))
    out(t, "utf8_split", bytes([echo]) + frame(1, b"\xe2\x82", fin=False) + frame(0, b"\xac ok \xf0\x9f", fin=False)
        + frame(0, b"\x98\x80"))
    out(t, "utf8_bad_forms", bytes([echo]) + frame(1, b"\xc0\xaf") + frame(1, b"\xed\xa0\x80")
        + frame(1, b"\xf4\x90\x80\x80") + frame(1, b"\xf4\x8f\xbf\xbf"))
    out(t, "utf8_truncated_end", bytes([echo]) + frame(1, b"ok\xe2\x82", fin=False) + frame(0, b""))
    for code in (999, 1004, 1005, 1006, 1015, 1016, 2999, 3000, 4999, 5000, 65535):
        out(t, f"close_{code}", bytes([echo]) + close(code, b"r"))
    out(t, "close_one_byte", bytes([echo]) + frame(8, b"\x03"))
    out(t, "close_bad_reason", bytes([echo]) + close(1000, b"\xff\xfe"))
    out(t, "close_123_reason", bytes([echo]) + close(1001, b"r" * 123))
    out(t, "after_close", bytes([echo]) + close(1000) + frame(1, "late") + frame(9, "late"))
    # Long streams: many frames, far over 4 KB.
    many = b"".join(frame(1 + i % 2, bytes([65 + i % 26]) * (i % 400)) for i in range(500))
    out(t, "stream_100k", bytes([echo]) + many + close(1000))
    pings = b"".join(frame(9, b"%d" % i) for i in range(5000))
    out(t, "pings_5000", bytes([echo]) + pings)
    frag = frame(2, b"s", fin=False) + b"".join(frame(0, b"", fin=False) for _ in range(8000)) + frame(0, b"e")
    out(t, "empty_fragments_8000", bytes([quiet]) + frag)
    out(t, "one_1mib", bytes([big]) + frame(2, b"\xaa" * ((1 << 20) - 16)))


# ---- JSON (JSON_MAX_DEPTH 1024) ----

def json_seeds():
    t = "fuzz_json"
    out(t, "all_types", '{"s":"x","n":-1.5e+3,"t":true,"f":false,"z":null,"a":[1,[],{}],"o":{"k":"v"}}')
    out(t, "numbers", "[0,-0,0.0,-0.0e-0,1E400,-1e-400,123456789012345678901234567890,1.7976931348623157e308,5e-324]")
    out(t, "bad_numbers", "[01,1.,.5,+1,-,1e,1e+,0x10,NaN,Infinity,--1]")
    out(t, "escapes", r'["\"\\\/\b\f\n\r\t","\u0000","\u00e9\u20AC","\ud83d\ude00","\uDBFF\uDFFF","\ud800","\udc00x","\ud800\ud800"]')
    out(t, "bad_escapes", r'["\x","\u12","\u12G4","\U0041","\'"]')
    out(t, "raw_utf8", b'["\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80","\xff","\xc0\x80","\xed\xa0\x80"]')
    out(t, "control_in_string", b'["a\x01b","tab\there","nl\nx"]')
    out(t, "whitespace", " \t\r\n[ \t\r\n1 \t\r\n, \r\n{ \"a\" \n: \t2 } ] \r\n")
    out(t, "two_values", "{} {}")
    out(t, "trailing_comma", '{"a":1,}')
    out(t, "empty", "")
    out(t, "nul_bytes", b'{"a\x00b":"\x00"}\x00')
    out(t, "literals", "[true,false,null,tru,nul,fals,True,nulll]")
    out(t, "dup_keys", '{"a":1,"a":2,"\\u0061":3,"b":{"a":4}}')
    out(t, "depth_1024", "[" * 1024 + "]" * 1024)
    out(t, "depth_1025", "[" * 1025 + "]" * 1025)
    out(t, "depth_1024_objects", '{"k":' * 1023 + "[]" + "}" * 1023)
    out(t, "unclosed_deep", "[" * 5000)
    out(t, "closers_only", "]" * 5000 + "}" * 5000)
    # Large flat documents (far over 4 KB; the harness must stay linear-ish on them).
    out(t, "array_20k_numbers", "[" + ",".join(str(i * 7919 % 100003) for i in range(20000)) + "]")
    out(t, "object_5k_keys", "{" + ",".join(f'"k{i}":{i}' for i in range(5000)) + "}")
    out(t, "string_900k", '"' + ("abc\\n\\u00e9\\\"" * 70000) + '"')
    out(t, "mixed_100k", "[" + ",".join('{"id":%d,"s":"v%d","a":[true,null,%d.5]}' % (i, i, i) for i in range(2500)) + "]")
    # Deep nesting far past the limit: json_parse must refuse it in linear
    # time; jsmn's closing walk is O(depth^2), so today this runs past
    # -timeout (issue 6, point 6).
    out(t, "deep_array_40000", "[" * 40000 + "]" * 40000)
    out(t, "deep_object_20000", '{"a":' * 20000 + "1" + "}" * 20000)


# ---- Messaging client frames ----

def messaging_seeds():
    t = "fuzz_messaging"
    out(t, "send_read", '{"send":[{"id":1,"sid":"alice","rid":"bob","body":"hi"},'
        '{"id":"1","sid":2,"rid":3,"n":1.5,"o":{"deep":[1,{"x":null}]}}],"read":[{"id":1},{"id":"x"}]}')
    out(t, "read_first", '{"read":[{"id":7}],"send":[{"id":7,"sid":"a","rid":"b"}],"other":{"send":1}}')
    out(t, "not_arrays", '{"send":{"id":1},"read":"x"}')
    out(t, "not_object", '[{"send":[]}]')
    out(t, "skips", '{"send":[1,"x",null,[],{},{"id":1},{"id":true,"sid":1,"rid":2},{"id":1,"sid":[],"rid":2},'
        '{"id":1,"sid":1,"rid":{}},{"id":1,"sid":1,"rid":""},{"id":1,"sid":1,"rid":"0"},{"id":1,"sid":1,"rid":0},'
        '{"id":1,"sid":1,"rid":"   "},{"id":1,"sid":1,"rid":"a\\u0001"},{"id":1,"sid":1,"rid":"\\ud800"}],'
        '"read":[1,{},{"id":{}},{"id":"\\udc00"}]}')
    out(t, "rid_128", '{"send":[{"id":1,"sid":1,"rid":"%s"}]}' % ("r" * 128))
    out(t, "rid_129", '{"send":[{"id":1,"sid":1,"rid":"%s"}]}' % ("r" * 129))
    out(t, "rid_escaped_128", '{"send":[{"id":1,"sid":1,"rid":"%s"}]}' % ("\\u00e9" * 64))
    out(t, "rid_number", '{"send":[{"id":-0.5e3,"sid":1e400,"rid":12345678901234567890}]}')
    out(t, "dup_fields", '{"send":[{"id":1,"id":2,"sid":1,"rid":"a","rid":"b"}],"send":[{"id":3,"sid":1,"rid":"c"}]}')
    out(t, "long_id_key", '{"send":[{"id":"%s","sid":1,"rid":"b"}],"read":[{"id":"%s"}]}' % ("i" * 50000, "i" * 50000))
    out(t, "send_500", '{"send":[' + ",".join(
        '{"id":%d,"sid":"m%d","rid":"m%d","body":"%s"}' % (i, i % 7, i % 50, "b" * 100) for i in range(500)) + "]}")
    out(t, "send_2000_small", '{"send":[' + ",".join('{"id":%d,"sid":1,"rid":2}' % i for i in range(2000)) + "]}")
    out(t, "read_5000", '{"read":[' + ",".join('{"id":%d}' % i for i in range(5000)) + "]}")
    out(t, "body_900k", '{"send":[{"id":1,"sid":1,"rid":"b","body":"%s"}]}' % ("\\u00e9x" * 120000))
    out(t, "body_depth_1000", '{"send":[{"id":1,"sid":1,"rid":"b","body":%s}]}' % ("[" * 1000 + "]" * 1000))
    out(t, "malformed", '{"send":[{"id":1,"sid":1,"rid":"b"},]}')
    # Deep nesting inside one message (issue 6, point 6: over -timeout until
    # json_parse refuses depth in a linear pass).
    out(t, "body_deep_40000", '{"send":[{"id":1,"sid":1,"rid":"b","body":%s}]}' % ("[" * 40000 + "]" * 40000))


# ---- MessagePack bus envelopes ----

def mp_str(s):
    if isinstance(s, str):
        s = s.encode()
    n = len(s)
    if n < 32:
        return bytes([0xA0 | n]) + s
    if n < 256:
        return b"\xd9" + bytes([n]) + s
    if n < 65536:
        return b"\xda" + struct.pack(">H", n) + s
    return b"\xdb" + struct.pack(">I", n) + s


def mp_bin(b):
    n = len(b)
    if n < 256:
        return b"\xc4" + bytes([n]) + b
    if n < 65536:
        return b"\xc5" + struct.pack(">H", n) + b
    return b"\xc6" + struct.pack(">I", n) + b


def mp_map(n):
    return bytes([0x80 | n]) if n < 16 else b"\xde" + struct.pack(">H", n) if n < 65536 else b"\xdf" + struct.pack(">I", n)


def mp_arr(n):
    return bytes([0x90 | n]) if n < 16 else b"\xdc" + struct.pack(">H", n) if n < 65536 else b"\xdd" + struct.pack(">I", n)


def env(proto, op, fields=(), v=b"\x01"):
    b = mp_map(3 + len(fields)) + mp_str("v") + v + mp_str("p") + mp_str(proto) + mp_str("op") + mp_str(op)
    for k, val in fields:
        b += mp_str(k) + val
    return b


def envelope_seeds():
    t = "fuzz_envelope"
    out(t, "credit", env("core", "credit", [("n", b"\xcd\x10\x00")]))
    out(t, "bye_close", env("core", "bye") + env("core", "close", [("code", b"\xcd\x03\xe8"), ("reason", mp_str("x"))]))
    out(t, "wschat_message", env("wschat", "message", [("to", mp_str("bob")), ("from", mp_str("alice")),
                                                       ("message", mp_str('"hi"')), ("conn", b"\xcf" + b"\x00\x00\x00\x02\x00\x00\x00\x07")]))
    out(t, "ok_bool", env("messaging", "stored", [("ok", b"\xc3"), ("ids", mp_arr(2) + b"\x01" + mp_str("2"))]))
    out(t, "text_1mib", env("core", "text", [("d", mp_str("t" * ((1 << 20) - 64)))]))
    out(t, "binary_1mib", env("core", "binary", [("d", mp_bin(b"\x00\xff" * ((1 << 19) - 32)))]))
    out(t, "batch_500", b"".join(env("core", "text", [("d", mp_bin(b"m%d" % i))]) for i in range(500)))
    out(t, "batch_then_junk", env("core", "text") + env("core", "credit") + b"\xc1\xc1")
    out(t, "batch_truncated", env("core", "text") + env("core", "text", [("d", mp_bin(b"x" * 300))])[:-5])
    out(t, "v_types", env("core", "text", v=b"\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00") + env("core", "text", v=b"\xff")
        + env("core", "text", v=b"\xcf" + b"\x00" * 7 + b"\x01") + env("core", "text", v=mp_str("1")))
    out(t, "missing_op", mp_map(2) + mp_str("v") + b"\x01" + mp_str("p") + mp_str("core"))
    out(t, "op_not_str", mp_map(3) + mp_str("v") + b"\x01" + mp_str("p") + mp_str("core") + mp_str("op") + mp_bin(b"text"))
    out(t, "not_a_map", mp_arr(3) + b"\x01" + mp_str("core") + mp_str("text"))
    out(t, "dup_keys", env("core", "text", [("v", b"\x02"), ("op", mp_str("credit")), ("d", b"\xc0")]))
    out(t, "int_keys", mp_map(4) + b"\x01\x01" + mp_str("v") + b"\x01" + mp_str("p") + mp_str("core") + mp_str("op") + mp_str("t"))
    out(t, "ext_float", env("core", "text", [("e", b"\xd4\x01\x02"), ("f", b"\xca\x3f\x80\x00\x00"),
                                             ("x", b"\xc7\x03\x05abc"), ("neg", b"\xd3\x80" + b"\x00" * 7)]))
    nest = b""
    for _ in range(200):
        nest += mp_arr(1)
    out(t, "nested_200", env("core", "text", [("d", nest + b"\xc0")]))
    out(t, "nested_maps_100", env("core", "text", [("d", (mp_map(1) + mp_str("k")) * 100 + b"\xc0")]))
    out(t, "array_100k_nils", env("core", "text", [("d", mp_arr(100000) + b"\xc0" * 100000)]))
    out(t, "map_claims_2e32", env("core", "text", [("d", b"\xdf\xff\xff\xff\xff")]))
    out(t, "str_claims_4g", env("core", "text", [("d", b"\xdb\xff\xff\xff\xff" + b"x" * 16)]))
    out(t, "empty", b"")
    out(t, "nil", b"\xc0")


# ---- SP frames (8-byte handshake, ipc: 0x01 + u64be, tcp: u64be; pair1 hop count) ----

def sp_frame(tp, body, hops=1):
    b = struct.pack(">I", hops) + body
    h = struct.pack(">Q", len(b))
    return (b"\x01" + h if tp == "ipc" else h) + b


HS = b"\x00SP\x00\x00\x11\x00\x00"


def sp_seeds():
    t = "fuzz_sp"
    # The last byte of an input picks the client's transport (bit 0: tcp) and
    # limit (bit 1: 64, else 4096); a trailing byte is added where it matters.
    for tp, sel in (("ipc", b"\x00"), ("tcp", b"\x01")):
        out(t, f"{tp}_small", HS + sp_frame(tp, b"hello") + sp_frame(tp, b"") + sel)
        out(t, f"{tp}_at_4096", HS + sp_frame(tp, b"x" * 4096) + sel)
        out(t, f"{tp}_over_4096", HS + sp_frame(tp, b"x" * 4097) + sel)
        out(t, f"{tp}_at_64", HS + sp_frame(tp, b"y" * 64) + sp_frame(tp, b"y" * 65) + bytes([sel[0] | 2]))
        out(t, f"{tp}_hops_255", HS + sp_frame(tp, b"h", 255) + sel)
        out(t, f"{tp}_hops_256", HS + sp_frame(tp, b"h", 256) + sel)
        out(t, f"{tp}_hops_0", HS + sp_frame(tp, b"h", 0) + sel)
        out(t, f"{tp}_no_hops", HS + (b"\x01" if tp == "ipc" else b"") + struct.pack(">Q", 3) + b"abc" + sel)
        out(t, f"{tp}_len_max", HS + (b"\x01" if tp == "ipc" else b"") + b"\xff" * 8 + b"\x00\x00\x00\x01" + sel)
        out(t, f"{tp}_len_zero", HS + (b"\x01" if tp == "ipc" else b"") + b"\x00" * 8 + sel)
        out(t, f"{tp}_many_1000", HS + b"".join(sp_frame(tp, b"f%d" % i) for i in range(1000)) + sel)
    # At the 1 MiB limit of parse_all's largest max, and one byte over it.
    out(t, "tcp_1mib", HS + sp_frame("tcp", b"\x5a" * ((1 << 20) - 4)) + b"\x01")
    out(t, "ipc_1mib_over", HS + sp_frame("ipc", b"\x5a" * ((1 << 20) - 3)) + b"\x00")
    out(t, "ipc_bad_type", HS + b"\x02" + struct.pack(">Q", 5) + b"\x00\x00\x00\x01x" + b"\x00")
    out(t, "handshake_pub0", b"\x00SP\x00\x00\x20\x00\x00" + sp_frame("tcp", b"x") + b"\x01")
    out(t, "handshake_bad_tail", b"\x00SP\x00\x00\x11\x00\x01" + b"\x01")
    out(t, "handshake_only", HS)
    out(t, "handshake_short", HS[:5])


def ticket2(group=b"test", user=b"alice", cid=b"c1", perms=b"\x00\x01", cand=-2, data=b"", status=b""):
    parts = (group, user, cid, perms, struct.pack("<h", cand), data, status)
    return b"".join(struct.pack("<I", len(p)) + p for p in parts)


def ticket1(group=b"test", user=b"alice", cid=b"c1", perms=b"\x00\x01"):
    return b"".join(struct.pack("<H", len(p)) + p for p in (group, user, cid, perms))


def ticket_seeds():
    t = "fuzz_galene_ticket"
    out(t, "v2", ticket2())
    out(t, "v2_token", ticket2(cand=-1, data=b'{"a":1}', status=b'{"raisehand":true}'))
    out(t, "v2_wildcard_empty_user", ticket2(user=b"", cand=3, perms=b""))
    out(t, "v1", ticket1())
    out(t, "v1_empty_user", ticket1(user=b"", perms=b""))
    # the limits, and over them: data and status of 64 KiB each with the longest
    # group name and id (the largest ticket), one byte more of each, 9 permissions
    big = b"x" * 65536
    out(t, "v2_largest", ticket2(data=big, status=big, group=b"g" * 1024, cid=b"i" * 256))
    out(t, "v2_data_over", ticket2(data=big + b"x"))
    out(t, "v2_group_over", ticket2(group=b"g" * 1025))
    out(t, "v2_id_over", ticket2(cid=b"i" * 257))
    out(t, "v2_perm_unknown", ticket2(perms=b"\x00\x08"))
    out(t, "v2_perms_over", ticket2(perms=bytes(range(8)) + b"\x00"))
    out(t, "v2_over_max", ticket2(data=big, status=big, user=b"u" * 8192))
    out(t, "v2_truncated", ticket2()[:-1])
    out(t, "v2_trailing", ticket2() + b"\x00")
    out(t, "v2_cand_short", b"".join(struct.pack("<I", len(p)) + p for p in (b"test", b"a", b"c", b"", b"\x01", b"", b"")))
    out(t, "v1_nul_group", ticket1(group=b"te\x00st"))
    out(t, "v1_huge_len", b"\xff\xff" + b"x" * 70000)


def chat_seeds():
    t = "fuzz_galene_chat"
    T, F = b"\xc3", b"\xc2"
    c = lambda *fields: env("galene", "c", fields)
    out(t, "private", c(("u", F), ("source", mp_str("g1")), ("dest", mp_str("g2")), ("value", mp_bin(b'"hi \\u00e9"'))))
    out(t, "broadcast_me", c(("u", F), ("kind", mp_str("me")), ("id", mp_str("x1")), ("value", mp_bin(b'"waves"')),
                             ("noecho", T)))
    out(t, "usermessage_object", c(("u", T), ("kind", mp_str("filetransfer")), ("dest", mp_str("g2")),
                                   ("value", mp_bin(b'{"type":"invite","id":"f","name":"a.txt","size":3}'))))
    out(t, "username_nul_utf8", c(("u", F), ("username", mp_str("b\x00\xc3\xa9")), ("value", mp_bin(b"1"))))
    out(t, "value_spliced", c(("u", F), ("value", mp_bin(b'"a","privileged":true'))))
    out(t, "value_escaped_end", c(("u", F), ("value", mp_bin(b'"a\\"'))))
    out(t, "value_surrogate", c(("u", F), ("value", mp_bin(b'"\\ud800"'))))
    out(t, "value_bad_utf8", c(("u", F), ("value", mp_bin(b'"\xc3"'))))
    out(t, "value_ws", c(("u", F), ("value", mp_bin(b' [1, {"a": null}] '))))
    out(t, "value_str_type", c(("u", F), ("value", mp_str('"x"'))))
    out(t, "no_u", c(("value", mp_bin(b'"x"'))))
    out(t, "unknown_key", c(("u", F), ("extra", mp_str("x"))))
    out(t, "repeated_dest", c(("u", F), ("dest", mp_str("a")), ("dest", mp_str("b"))))
    # far over 4 KB: a 1 MiB value (the limit) and one byte over, a deep value
    out(t, "value_1mib", c(("u", F), ("value", mp_bin(b'"' + b"v" * (1048576 - 2) + b'"'))))
    out(t, "value_over", c(("u", F), ("value", mp_bin(b'"' + b"v" * (1048576 - 1) + b'"'))))
    out(t, "value_deep", c(("u", T), ("value", mp_bin(b"[" * 511 + b"]" * 511))))
    out(t, "dest_64k", c(("u", F), ("dest", mp_str("d" * 65536)), ("value", mp_bin(b"null"))))


if __name__ == "__main__":
    for name, fn in (("fuzz_http", http_seeds), ("fuzz_frame", frame_seeds), ("fuzz_json", json_seeds),
                     ("fuzz_messaging", messaging_seeds), ("fuzz_envelope", envelope_seeds), ("fuzz_sp", sp_seeds),
                     ("fuzz_galene_ticket", ticket_seeds), ("fuzz_galene_chat", chat_seeds)):
        clean(name)
        fn()
