// Test vectors for the wsstar unit tests, made by the real npm packages of
// the libp2p-websocket-star 0.10.2 era (tests/e2e/package.json):
//   node wsstar_vectors.js keys          fresh RSA, Ed25519 and secp256k1 keys:
//                                        "<type> <peer id> <pubkey hex> <nonce> <sig hex>"
//   node wsstar_vectors.js codec FILE    FILE holds messages our C encoder wrote
//                                        ("t <hex>" text, "b <hex>" binary); each
//                                        Socket.IO packet that engine.io-parser 2 and
//                                        socket.io-parser 3 decode from them is printed
//                                        as "D <json>", then the messages they encode for
//                                        a client's packets as "E t|b <hex>".
'use strict';
const path = require('path');
const fs = require('fs');
const req = require('module').createRequire(path.join(__dirname, '../e2e/package.json'));

function keys() {
	const crypto = req('libp2p-crypto');
	const PeerId = req('peer-id');
	const nonce = 'c13ac364-3eb3-45ee-8ff2-ac3a8e228fc2cacba569-3768-41d7-9dcd-e952dfb7e0f0';
	const types = [['RSA', 2048], ['Ed25519', 256], ['secp256k1', 256]];
	let left = types.length;
	const out = {};
	for (const [t, bits] of types) {
		crypto.keys.generateKeyPair(t, bits, (err, key) => {
			if (err) throw err;
			PeerId.createFromPubKey(key.public.bytes, (e, id) => {
				if (e) throw e;
				key.sign(Buffer.from(nonce), (e2, sig) => {
					if (e2) throw e2;
					out[t] = [t, id.toB58String(), key.public.bytes.toString('hex'), nonce, sig.toString('hex')].join(' ');
					if (--left === 0) for (const [n] of types) console.log(out[n]);
				});
			});
		});
	}
}

function show(p) {
	return JSON.stringify(p, (k, v) => (v && v.type === 'Buffer' && Array.isArray(v.data) ? { buf: Buffer.from(v.data).toString('hex') } : v));
}

function codec(file) {
	const eio = req('engine.io-parser');
	const sio = req('socket.io-parser');
	const decoder = new sio.Decoder();
	decoder.on('decoded', (p) => console.log('D ' + show({ type: p.type, nsp: p.nsp, id: p.id, data: p.data })));
	for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
		if (!line) continue;
		const bytes = Buffer.from(line.slice(2), 'hex');
		const pk = eio.decodePacket(line[0] === 't' ? bytes.toString('utf8') : bytes);
		if (pk.type === 'open') console.log('D open ' + JSON.stringify(JSON.parse(pk.data)));
		else if (pk.type === 'pong') console.log('D pong ' + JSON.stringify(pk.data === undefined ? '' : pk.data));
		else if (pk.type === 'message') decoder.add(pk.data);
		else console.log('D engine.io ' + pk.type);
	}
	const encoder = new sio.Encoder();
	const client = [
		{ type: 2, nsp: '/', id: 0, data: ['ss-join', '/ip4/127.0.0.1/tcp/9090/ws/p2p-websocket-star', 'ab'] },
		{ type: 3, nsp: '/', id: 7, data: [] },
		{ type: 5, nsp: '/', data: ['socket.io-pull-stream.queue.D.dialer', Buffer.from([0, 1, 0xfe, 0xff])] },
		{ type: 0, nsp: '/foo' },
		{ type: 1, nsp: '/' },
		{ type: 5, nsp: '/', id: 12, data: ['two', { a: [Buffer.from('x'), { b: Buffer.from('yz') }] }] },
	];
	for (const p of client)
		encoder.encode(p, (parts) => {
			for (const part of parts)
				eio.encodePacket({ type: 'message', data: part }, true, false, (enc) => {
					if (Buffer.isBuffer(enc)) console.log('E b ' + enc.toString('hex'));
					else console.log('E t ' + Buffer.from(enc, 'utf8').toString('hex'));
				});
		});
	eio.encodePacket({ type: 'ping' }, true, false, (enc) => console.log('E t ' + Buffer.from(enc).toString('hex')));
}

if (process.argv[2] === 'keys') keys();
else if (process.argv[2] === 'codec') codec(process.argv[3]);
else {
	console.error('usage: wsstar_vectors.js keys | codec FILE');
	process.exit(2);
}
