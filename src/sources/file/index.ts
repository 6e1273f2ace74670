// sources/file — the embedded default source: a directory of YAML files
// (recursive, `*.yaml` / `*.yml`, multi-document), hot-reloaded. It validates
// every document with config/ and reports per-document results; keeping the
// last good config when a file breaks is the caller's policy, made easy by
// mergeWithLastGood. Imports config/ and model/ only; never translate/ or xds/.

export { FILE_SOURCE_CODES, type FileSourceCode } from "./codes.js";
export { FileSource, type FileSourceOptions } from "./file-source.js";
export { loadDirectory } from "./load-directory.js";
export { mergeWithLastGood } from "./merge.js";
export { DEFAULT_NAMESPACE, parseYamlFile } from "./parse-file.js";
export type { FileLoadResult, LoadedObject, ObjectSource } from "./types.js";
