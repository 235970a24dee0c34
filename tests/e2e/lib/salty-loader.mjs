// Module resolution hook for the SaltyRTC tests (lib/salty.js registers
// it): @saltyrtc/client's `import 'tweetnacl'` gets lib/tweetnacl-esm.mjs.
export async function resolve(specifier, context, next) {
  if (specifier === 'tweetnacl' && context.parentURL && context.parentURL.includes('/@saltyrtc/'))
    return { url: new URL('./tweetnacl-esm.mjs', import.meta.url).href, shortCircuit: true };
  return next(specifier, context);
}
