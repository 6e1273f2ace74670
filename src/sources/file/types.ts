import type { SourceObject } from "../../config/index.js";
import type { Diagnostic } from "../../model/diagnostic.js";

/** Where an object came from: a path relative to the watched directory (always with `/`) and a 0-based document index. */
export interface ObjectSource {
  file: string;
  documentIndex: number;
}

export interface LoadedObject {
  object: SourceObject;
  source: ObjectSource;
}

/** Per-document results of one load: every valid object, and a diagnostic for everything else. */
export interface FileLoadResult {
  objects: LoadedObject[];
  diagnostics: Diagnostic[];
}
