// Makes JWKs and JWTs with node's own crypto (an independent, real JOSE
// signer) for the C unit tests of proto/galene/jwt. Prints one JSON object:
// {now, keys: [JWK...], cases: [{name, token, host, group, want, sub, perms}]}
// where want is "ok", "invalid" or "malformed".
'use strict';
const crypto = require('crypto');

const now = Math.floor(Date.now() / 1000);
const b64 = (b) => Buffer.from(b).toString('base64url');
const secrets = { HS256: crypto.randomBytes(32), HS384: crypto.randomBytes(48), HS512: crypto.randomBytes(64) };
const other = crypto.randomBytes(32);
const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });

const keys = [
  { kty: 'oct', alg: 'HS256', k: b64(secrets.HS256) },
  { kty: 'oct', alg: 'HS384', k: b64(secrets.HS384), use: 'sig' },
  { kty: 'oct', alg: 'HS512', k: b64(secrets.HS512) },
  { kty: 'oct', alg: 'HS256', k: b64(other), kid: 'k2' },
  Object.assign(ec.publicKey.export({ format: 'jwk' }), { alg: 'ES256', kid: 'ec1' }),
  Object.assign(rsa.publicKey.export({ format: 'jwk' }), { alg: 'RS256' }),
];

function sign(alg, input, opts = {}) {
  const md = 'sha' + alg.slice(2);
  if (alg.startsWith('HS')) return crypto.createHmac(md, opts.secret || secrets[alg]).update(input).digest();
  if (alg === 'ES256')
    return crypto.sign('sha256', Buffer.from(input), { key: ec.privateKey, dsaEncoding: opts.der ? 'der' : 'ieee-p1363' });
  if (alg === 'RS256') return crypto.sign('sha256', Buffer.from(input), rsa.privateKey);
  return Buffer.alloc(0);
}

function jwt(alg, claims, opts = {}) {
  const header = Object.assign({ alg, typ: 'JWT' }, opts.header || {});
  const input = b64(JSON.stringify(header)) + '.' + b64(opts.rawClaims || JSON.stringify(claims));
  return input + '.' + b64(sign(alg, input, opts));
}

const aud = 'http://localhost:8443/group/test/';
const base = { sub: 'john', aud, permissions: ['present', 'message'], exp: now + 60, iat: now };
const cl = (extra) => Object.assign({}, base, extra);
const cases = [];
const add = (name, token, want, extra = {}) =>
  cases.push(Object.assign({ name, token, want, host: null, group: 'test', sub: 'john', perms: ['present', 'message'] }, extra));

for (const alg of ['HS256', 'HS384', 'HS512', 'ES256', 'RS256']) add(alg + ' signed by node', jwt(alg, base), 'ok');
add('kid picks the second HS256 key', jwt('HS256', base, { secret: other, header: { kid: 'k2' } }), 'ok');
add('ES256 with its kid', jwt('ES256', base, { header: { kid: 'ec1' } }), 'ok');
add('aud as an array', jwt('HS256', cl({ aud: ['http://x/group/other/', aud] })), 'ok');
add('aud percent-encoded', jwt('HS256', cl({ aud: 'http://localhost:8443/group/te%73t/' })), 'ok');
add('canonical host matches', jwt('HS256', base), 'ok', { host: 'LOCALHOST:8443' });
add('canonical host differs', jwt('HS256', base), 'invalid', { host: 'example.org' });
add('include-subgroups: a parent path', jwt('HS256', cl({ aud: 'https://h/group/', 'include-subgroups': true })), 'ok',
  { group: 'test/sub' });
add('include-subgroups false: parent path refused', jwt('HS256', cl({ aud: 'https://h/group/test/' })), 'invalid',
  { group: 'test/sub' });
add('no sub, no permissions', jwt('HS256', { aud, exp: now + 60 }), 'ok', { sub: null, perms: null });
add('expired within leeway', jwt('HS256', cl({ exp: now - 3 })), 'ok');
add('expired', jwt('HS256', cl({ exp: now - 10 })), 'invalid');
add('fractional exp', jwt('HS256', cl({ exp: now + 60.5 })), 'ok');
add('no exp', jwt('HS256', { sub: 'john', aud }), 'invalid');
add('exp as a string', jwt('HS256', cl({ exp: String(now + 60) })), 'invalid');
add('nbf within leeway', jwt('HS256', cl({ nbf: now + 3 })), 'ok');
add('nbf in the future', jwt('HS256', cl({ nbf: now + 10 })), 'invalid');
add('iat in the future', jwt('HS256', cl({ iat: now + 10 })), 'invalid');
add('wrong aud', jwt('HS256', cl({ aud: 'http://localhost:8443/group/other/' })), 'invalid');
add('aud without trailing slash', jwt('HS256', cl({ aud: 'http://localhost:8443/group/test' })), 'invalid');
add('no aud', jwt('HS256', { sub: 'john', exp: now + 60 }), 'invalid');
add('aud a number', jwt('HS256', cl({ aud: 7 })), 'invalid');
add('permissions not an array', jwt('HS256', cl({ permissions: 'op' })), 'invalid');
add('permissions with a number', jwt('HS256', cl({ permissions: ['op', 1] })), 'invalid');
add('sub a number', jwt('HS256', cl({ sub: 5 })), 'invalid');
add('alg none', jwt('none', base), 'invalid');
add('alg none with a signature', jwt('none', base).replace(/\.$/, '.AAAA'), 'invalid');
add('unknown alg', jwt('HS256', base, { header: { alg: 'PS256' } }), 'invalid');
add('HS256 signed with another secret', jwt('HS256', base, { secret: crypto.randomBytes(32) }), 'invalid');
add('kid with no key', jwt('HS256', base, { header: { kid: 'nope' } }), 'invalid');
add('kid of another key', jwt('HS256', base, { header: { kid: 'k2' } }), 'invalid');
add('ES256 signature in DER', jwt('ES256', base, { der: true }), 'invalid');
add('RS256 key confusion: HS256 keyed with the RSA public key',
  jwt('HS256', base, { secret: rsa.publicKey.export({ format: 'pem', type: 'spki' }) }), 'invalid');
add('duplicate claim', jwt('HS256', null, { rawClaims: `{"sub":"john","sub":"root","aud":"${aud}","exp":${now + 60}}` }),
  'invalid');
const good = jwt('HS256', base);
const [h, p, s] = good.split('.');
const tampered = b64(JSON.stringify(cl({ sub: 'root' })));
add('tampered claims', [h, tampered, s].join('.'), 'invalid');
const sb = Buffer.from(s, 'base64url'); sb[0] ^= 1;
add('tampered signature', [h, p, b64(sb)].join('.'), 'invalid');
const es = jwt('ES256', base).split('.'); const esb = Buffer.from(es[2], 'base64url'); esb[40] ^= 0x80;
add('tampered ES256 signature', [es[0], es[1], b64(esb)].join('.'), 'invalid');
const rs = jwt('RS256', base).split('.'); const rsb = Buffer.from(rs[2], 'base64url'); rsb[100] ^= 4;
add('tampered RS256 signature', [rs[0], rs[1], b64(rsb)].join('.'), 'invalid');
add('padded base64url', [h, p, s + '='].join('.'), 'malformed');
add('base64 (not url) alphabet', [h, p, s.replace(/-/g, '+').replace(/_/g, '/') + (/[-_]/.test(s) ? '' : '+')].join('.'),
  'malformed');
// a last character whose unused low bits are set: decodes loosely, not strictly
const last = s[s.length - 1], idx = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.indexOf(last);
add('non-zero trailing bits', [h, p, s.slice(0, -1) + 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'[idx | 1]].join('.'),
  'malformed');
add('two parts', [h, p].join('.'), 'malformed');
add('four parts', [h, p, s, s].join('.'), 'malformed');
add('a stateful token', '1mf7TAvvKyk', 'malformed');
add('header not JSON', [b64('nope'), p, s].join('.'), 'malformed');
add('header a JSON array', [b64('[]'), p, s].join('.'), 'malformed');

process.stdout.write(JSON.stringify({ now, keys, cases }));
