export { allowedHostnames, bearerToken, checkHost, checkOrigin, type GuardResult, hostnameOf } from './guards.ts';
export { type Scope, type TokenIdentity, type TokenRecord, TokenStore } from './tokens.ts';
