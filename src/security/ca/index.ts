// The workload CA: X.509-SVIDs and xDS server certificates, the trust bundle,
// three-phase root rotation, renewal times, and the CA Secret. See
// src/security/README.md for what this module owns and docs/security.md for
// the trust model.
export {
  type CaOptions,
  type CertificateAuthority,
  createCertificateAuthority,
  DEFAULT_ROOT_TTL_MS,
  DEFAULT_WORKLOAD_TTL_MS,
  defaultWorkerCount,
  type IssuedCertificate,
  MAX_SERVER_TTL_MS,
  MAX_WORKLOAD_TTL_MS,
  MIN_TTL_MS,
  type PersistedCa,
  type RootRotation,
  RotationError,
  type RotationSnapshot,
  type RotationState,
  type SigningOptions,
} from "./authority.js";
export { renewAt } from "./rotation.js";
export {
  CA_SECRET_NAME,
  type CaSecretHttp,
  ISTIO_CACERTS_SECRET_NAME,
  loadOrCreateCaSecret,
  readCaSecret,
  type StoredCa,
  saveCaSecret,
  storedSigning,
} from "./secret-store.js";
export { type CaMaterial, CaMaterialError, splitPemCertificates } from "./signer.js";
export {
  InvalidSpiffeIdError,
  parseSpiffeId,
  type SpiffeIdResult,
  spiffeIdOf,
  trustDomainError,
  type WorkloadIdentity,
} from "./spiffe.js";
export { PoolClosedError } from "./worker-pool.js";
