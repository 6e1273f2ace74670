// sources/kube — watches the Kubernetes API: informers for Services,
// EndpointSlices, Pods, Namespaces, Nodes and every mesh CRD, validated with
// config/ into the objects the model reads; the status writer (leader only)
// and Lease leader election. Imports config/ and model/ only; never
// translate/ or xds/. This is the only place the Kubernetes client is used.

export { KUBE_SOURCE_CODES } from "./codes.js";
export { KubeError, KubeHttp } from "./http.js";
export { Informer } from "./informer.js";
export { loadKubeConfig } from "./kube-config.js";
export { type KubeLoadResult, KubeSource, type KubeSourceOptions, type MeshResourceInfo } from "./kube-source.js";
export { collectionPath, discoverMeshResources, objectPath, type WatchedResource } from "./resources.js";
export { desiredStatus, type MeshStatus, StatusWriter, sameStatus } from "./status.js";
