// What a quantlab command is: its name, a one-paragraph summary for the command list, its --help
// text (first line the synopsis), the flags it takes and what it does with them. main.ts holds
// the table of commands; a command never imports another command.

import type { FlagSpecs, ParsedArgs } from './args';

export interface Command<S extends FlagSpecs = FlagSpecs> {
  name: string;
  /** Shown under the synopsis in `quantlab --help`; may span lines. */
  summary: string;
  /** `quantlab <command> --help`; its first line is the synopsis ("quantlab eval <dir> ..."). */
  help: string;
  flags: S;
  /** Runs with flags parsed and checked; resolves to the exit code. */
  run(args: ParsedArgs<S>): Promise<number>;
}

/**
 * Keeps the flags' literal types so `run` sees typed values. Every command spells out its FLAGS
 * table and its defineCommand({ ... }) in its own file, alike by design: a command reads whole
 * in one place, and its table is what `parseArgs` checks.
 */
export function defineCommand<const S extends FlagSpecs>(command: Command<S>): Command<S> {
  return command;
}
