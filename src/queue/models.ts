import { statSync } from 'node:fs';
import { loadModel, type LoadedModel } from '../model/index.js';

/** What identifies a file's version without reading it: a file replaced or rewritten changes one of these. */
interface FileVersion {
  readonly size: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
  readonly ino: number;
}

function versionOf(path: string): FileVersion | undefined {
  try {
    const { size, mtimeMs, ctimeMs, ino } = statSync(path);
    return { size, mtimeMs, ctimeMs, ino };
  } catch {
    // Unreadable now: loadModel says why, with its own message.
    return undefined;
  }
}

const sameVersion = (a: FileVersion | undefined, b: FileVersion | undefined): boolean =>
  a !== undefined && b !== undefined && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs && a.ino === b.ino;

/**
 * A worker's models, loaded (and hashed) once per file version: a model file
 * that is corrected on disk (copied again, rewritten) after a batch refused it
 * is read and hashed again by the next batch, instead of being refused until
 * the worker restarts. A stat per batch and model is all it costs.
 */
export class ModelCache {
  private readonly loaded = new Map<string, { readonly model: LoadedModel; readonly version: FileVersion | undefined }>();

  get(path: string): LoadedModel {
    const version = versionOf(path);
    const cached = this.loaded.get(path);
    if (cached !== undefined && sameVersion(cached.version, version)) return cached.model;
    this.loaded.delete(path);
    const model = loadModel(path);
    // The version seen before reading: a file changed while being read is read again next time.
    this.loaded.set(path, { model, version });
    return model;
  }
}
