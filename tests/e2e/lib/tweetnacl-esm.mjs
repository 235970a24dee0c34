// tweetnacl is CommonJS and fills module.exports at run time, so Node's ESM
// import of it sees no named exports; @saltyrtc/client does
// `import * as nacl from 'tweetnacl'`. This module gives it the names.
import { createRequire } from 'node:module';

const nacl = createRequire(import.meta.url)('tweetnacl');
export const { box, secretbox, scalarMult, sign, hash, randomBytes, verify, setPRNG, lowlevel } = nacl;
export default nacl;
