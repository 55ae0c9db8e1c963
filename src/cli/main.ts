// The `quantlab` command: the same engine as the browser, run from Node for scripted
// experiments and for producing model folders people can deploy. This file holds the table of
// commands; the list in `quantlab --help` is built from it.

import { describeError, QuantlabError, toErrorInfo } from '../lib/errors';
import { parseArgs } from './args';
import type { Command } from './command';
import { benchCommand } from './commands/bench';
import { evalCommand } from './commands/eval';
import { generateCommand } from './commands/generate';
import { importCommand } from './commands/import';
import { quantizeCommand } from './commands/quantize';
import { sensitivityCommand } from './commands/sensitivity';
import { sweepCommand } from './commands/sweep';
import { tinyCommand } from './commands/tiny';

/** Every command, in the order `quantlab --help` lists them. */
export const COMMANDS: readonly Command[] = [
  importCommand,
  tinyCommand,
  quantizeCommand,
  sensitivityCommand,
  generateCommand,
  evalCommand,
  sweepCommand,
  benchCommand,
];

/** `quantlab --help`: each command's synopsis (the first line of its help) and summary. */
export function usage(): string {
  const entries = COMMANDS.map((c) => {
    const synopsis = c.help.split('\n')[0].replace(/^quantlab /, '');
    const summary = c.summary
      .split('\n')
      .map((line) => `      ${line}`)
      .join('\n');
    return `  ${synopsis}\n${summary}`;
  });
  return `quantlab <command> [options]\n\nCommands:\n${entries.join('\n')}\n\nRun 'quantlab <command> --help' for details.`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  try {
    if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
      console.log(usage());
      return name === undefined ? 1 : 0;
    }
    const command = COMMANDS.find((c) => c.name === name);
    if (!command)
      throw new QuantlabError(
        'bad-argument',
        `Unknown command "${name}"`,
        "Run 'quantlab --help' to list the commands.",
      );
    const parsed = parseArgs(rest, command.flags);
    if (parsed.help) {
      console.log(command.help);
      return 0;
    }
    return await command.run(parsed);
  } catch (err) {
    const e = toErrorInfo(err);
    console.error(`quantlab ${name}: ${describeError(e, '\n  ')}`);
    if (e.code === 'internal' && err instanceof Error && err.stack && process.env.QUANTLAB_DEBUG)
      console.error(err.stack);
    return 2;
  }
}
