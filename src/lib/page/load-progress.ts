// What a column's progress line says while it loads: each LoadProgress event from the worker
// mapped to one line. Once a model file has been read in full the session is still being built
// (the longest silent stretch of a load), so the line says that rather than "Reading … 100 %",
// and keeps saying it while small files (generation_config.json…) finish reading meanwhile.

import type { LoadProgress } from '../runner/types';

/** One line of load progress: the words, and the bar's fraction (null: no bar, work of unknown length). */
export interface LoadStage {
  message: string;
  fraction: number | null;
}

/** The session is built from the .onnx file (and its .onnx_data weights) once they are read. */
const SESSION_FILE = /\.onnx(_data(_\d+)?)?$/;

const SESSION_LINE = /^Creating the ONNX Runtime session/;

/**
 * The progress line for one event, or null when the event ends the load (nothing left to show) or
 * leaves the line as it is (the per-file download list is shown apart, from 'files' events). With
 * `current`, the line shown now: once it says the session is being built, reads of files the
 * session does not need leave it as it is.
 */
export function loadStage(p: LoadProgress, current?: LoadStage | null): LoadStage | null {
  switch (p.status) {
    case 'download': {
      if (current && SESSION_LINE.test(current.message) && !SESSION_FILE.test(p.file)) return null;
      const fraction = p.total > 0 ? Math.min(1, p.loaded / p.total) : null;
      if (fraction === 1 && SESSION_FILE.test(p.file))
        return { message: `Creating the ONNX Runtime session (${p.file} read)`, fraction: null };
      return { message: `Reading ${p.file}`, fraction };
    }
    case 'init':
      return { message: p.message, fraction: null };
    case 'files':
    case 'ready':
      return null;
  }
}
