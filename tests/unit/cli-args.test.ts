// The CLI's one flag parser (typed values, defaults, and errors that name the flag and the value)
// and the command table main.ts builds `quantlab --help` from: every command answers --help with
// its own text, documents every flag it takes, and no command imports another or main.ts.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, expectTypeOf, it, vi } from 'vitest';
import { parseArgs, type FlagSpecs } from '../../src/cli/args';
import { COMMANDS, usage } from '../../src/cli/main';
import { QuantlabError } from '../../src/lib/errors';
import { runCli } from '../helpers/cli';
import { REPO } from '../helpers/paths';

afterEach(() => vi.restoreAllMocks());

const FLAGS = {
  name: { type: 'string' },
  mode: { type: 'string', default: 'fast' },
  json: { type: 'boolean' },
  count: { type: 'int', min: 1, max: 10, default: 3 },
  offset: { type: 'int' },
  scale: { type: 'number' },
  wait: { type: 'number', min: 0, max: 60, unit: 'seconds', default: 0 },
  dtypes: { type: 'list', default: ['fp32'] },
  temps: { type: 'numbers', default: [0, 1] },
} as const satisfies FlagSpecs;

/** The parsed values, or the test fails (a `--help` result has none). */
function values(args: string[]) {
  const r = parseArgs(args, FLAGS);
  if (r.help) throw new Error('unexpected --help');
  return r;
}

/** The QuantlabError parseArgs throws for `args`. */
function refusal(args: string[]): QuantlabError {
  try {
    parseArgs(args, FLAGS);
  } catch (err) {
    expect(err).toBeInstanceOf(QuantlabError);
    expect((err as QuantlabError).code).toBe('bad-argument');
    return err as QuantlabError;
  }
  throw new Error(`parseArgs accepted ${args.join(' ')}`);
}

describe('parseArgs', () => {
  it('gives defaults, false for absent booleans and undefined for absent flags without a default', () => {
    const { values: v, positionals } = values(['model-dir']);
    expect(positionals).toEqual(['model-dir']);
    expect(v).toEqual({
      name: undefined,
      mode: 'fast',
      json: false,
      count: 3,
      offset: undefined,
      scale: undefined,
      wait: 0,
      dtypes: ['fp32'],
      temps: [0, 1],
    });
  });

  it('converts every kind of value, in both --flag value and --flag=value forms', () => {
    const { values: v, positionals } = values([
      'a',
      '--name',
      'x y',
      '--json',
      '--count=7',
      '--offset',
      '0',
      '--scale',
      '2.5e-1',
      '--wait=12.5',
      '--dtypes',
      ' q4 , ,bnb4,',
      '--temps',
      '0.5,1.5',
      'b',
    ]);
    expect(positionals).toEqual(['a', 'b']);
    expect(v).toEqual({
      name: 'x y',
      mode: 'fast',
      json: true,
      count: 7,
      offset: 0,
      scale: 0.25,
      wait: 12.5,
      dtypes: ['q4', 'bnb4'],
      temps: [0.5, 1.5],
    });
  });

  it('types the values from the flag table', () => {
    const { values: v } = values([]);
    expectTypeOf(v.name).toEqualTypeOf<string | undefined>();
    expectTypeOf(v.mode).toEqualTypeOf<string>();
    expectTypeOf(v.json).toEqualTypeOf<boolean>();
    expectTypeOf(v.count).toEqualTypeOf<number>();
    expectTypeOf(v.offset).toEqualTypeOf<number | undefined>();
    expectTypeOf(v.dtypes).toEqualTypeOf<string[]>();
    expectTypeOf(v.temps).toEqualTypeOf<number[]>();
  });

  it('hands out copies of list defaults', () => {
    values([]).values.dtypes.push('q8');
    expect(values([]).values.dtypes).toEqual(['fp32']);
  });

  it('takes the last value of a repeated flag', () => {
    expect(values(['--count', '2', '--count', '5']).values.count).toBe(5);
    expect(values(['--dtypes', 'q4', '--dtypes', 'q8,fp16']).values.dtypes).toEqual(['q8', 'fp16']);
    expect(values(['--json', '--json']).values.json).toBe(true);
  });

  it('treats everything after -- as positionals', () => {
    const { values: v, positionals } = values(['--', '--json', '-x']);
    expect(positionals).toEqual(['--json', '-x']);
    expect(v.json).toBe(false);
  });

  it('refuses an unknown flag by name', () => {
    expect(refusal(['dir', '--bogus']).message).toMatch(/Unknown option '--bogus'/);
    expect(refusal(['-x']).message).toMatch(/Unknown option '-x'/);
  });

  it('refuses a flag whose value is missing', () => {
    expect(refusal(['--name']).message).toMatch(/--name/);
    expect(refusal(['--count']).message).toMatch(/--count/);
    // A value that looks like a flag is not taken as the value.
    expect(refusal(['--name', '--json']).message).toMatch(/--name/);
  });

  it('refuses a value for a boolean', () => {
    expect(refusal(['--json=yes']).message).toMatch(/--json/);
  });

  it('refuses bad numbers, naming the flag and the value', () => {
    expect(refusal(['--count', 'x']).message).toBe('--count must be a whole number >= 1 (got "x")');
    expect(refusal(['--count', '2.5']).message).toBe('--count must be a whole number >= 1 (got "2.5")');
    expect(refusal(['--count', '0']).message).toBe('--count must be a whole number >= 1 (got "0")');
    expect(refusal(['--count', '11']).message).toBe('--count must be at most 10 (got 11)');
    expect(refusal(['--count=']).message).toBe('--count must be a whole number >= 1 (got "")');
    expect(refusal(['--offset', '1.5']).message).toBe('--offset must be a whole number (got "1.5")');
    expect(refusal(['--scale', 'hot']).message).toBe('--scale must be a number (got "hot")');
    expect(refusal(['--scale', 'Infinity']).message).toBe('--scale must be a number (got "Infinity")');
    expect(refusal(['--wait=-1']).message).toBe('--wait must be a number of seconds from 0 to 60 (got "-1")');
    expect(refusal(['--wait', 'NaN']).message).toBe('--wait must be a number of seconds from 0 to 60 (got "NaN")');
    const list = refusal(['--temps', '0,warm']);
    expect(list.message).toBe('--temps: "warm" is not a number');
    expect(list.detail).toBe('Give numbers separated by commas, e.g. --temps 0,1');
    expect(refusal(['--temps', '0,,1']).message).toBe('--temps: "" is not a number');
  });

  it('refuses a list with no item', () => {
    expect(refusal(['--dtypes', ' , ']).message).toBe('--dtypes is empty');
  });

  it('answers --help before converting values, but not past an unknown flag', () => {
    expect(parseArgs(['--count', 'x', '--help'], FLAGS)).toEqual({ help: true });
    expect(parseArgs(['dir', '--help', '--scale', 'hot'], FLAGS)).toEqual({ help: true });
    expect(refusal(['--help', '--bogus']).message).toMatch(/--bogus/);
  });
});

describe('the command table', () => {
  it('holds each command once, in the order of the usage text', () => {
    const names = COMMANDS.map((c) => c.name);
    expect(names).toEqual(['import', 'tiny', 'quantize', 'sensitivity', 'generate', 'eval', 'sweep', 'bench']);
    const text = usage();
    let at = 0;
    for (const c of COMMANDS) {
      const synopsis = c.help.split('\n')[0];
      expect(synopsis.startsWith(`quantlab ${c.name} `), synopsis).toBe(true);
      const found = text.indexOf(`  ${synopsis.slice('quantlab '.length)}\n`, at);
      expect(found, c.name).toBeGreaterThan(at);
      for (const line of c.summary.split('\n'))
        expect(text.indexOf(`      ${line}`, found), line).toBeGreaterThan(found);
      at = found;
    }
  });

  it('prints the usage for --help, -h and help (exit 0) and without a command (exit 1)', async () => {
    for (const arg of ['--help', '-h', 'help']) {
      const r = await runCli([arg]);
      expect([r.code, r.out, r.err]).toEqual([0, usage(), '']);
    }
    const none = await runCli([]);
    expect([none.code, none.out]).toEqual([1, usage()]);
  });

  for (const c of COMMANDS) {
    it(`${c.name} --help prints its help and documents every flag it takes`, async () => {
      const r = await runCli([c.name, '--help']);
      expect([r.code, r.out, r.err]).toEqual([0, c.help, '']);
      for (const flag of Object.keys(c.flags)) expect(c.help, `--${flag}`).toMatch(new RegExp(`--${flag}\\b`));
      // An unknown flag is refused by name, with the exit code of every usage error.
      const bad = await runCli([c.name, '--no-such-flag']);
      expect(bad.code).toBe(2);
      expect(bad.err).toMatch(new RegExp(`^quantlab ${c.name}: Unknown option '--no-such-flag'`));
    });
  }

  it('has no import cycle: commands import neither each other nor main.ts', () => {
    const dir = join(REPO, 'src/cli/commands');
    const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
    expect(files.length).toBe(COMMANDS.length);
    for (const f of files) {
      const imports = [...readFileSync(join(dir, f), 'utf8').matchAll(/^import .* from '([^']+)';$/gm)].map(
        (m) => m[1],
      );
      expect(
        imports.filter((p) => p.startsWith('./') || /(^|\/)main(\.ts)?$/.test(p)),
        f,
      ).toEqual([]);
    }
    for (const f of ['args.ts', 'command.ts', 'format.ts', 'model-folder.ts']) {
      const text = readFileSync(join(REPO, 'src/cli', f), 'utf8');
      expect(text, f).not.toMatch(/from '\.\/(main|commands\/)/);
    }
  });
});
