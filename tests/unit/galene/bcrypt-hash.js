// Prints bcrypt hashes made by bcryptjs (a real, independent bcrypt) for the
// C unit tests: argv[2] is a JSON array of [password, cost] pairs; the
// output is a JSON array of hashes, one per pair, in order.
'use strict';
const bcrypt = require('bcryptjs');
const pairs = JSON.parse(process.argv[2]);
process.stdout.write(JSON.stringify(pairs.map(([pw, cost]) => bcrypt.hashSync(pw, bcrypt.genSaltSync(cost)))));
