// The one command-line parser of the scripts: a settings table gives the
// option letters (value or flag), minimist splits argv, and the same rules
// hold everywhere: an option given an empty value (`-o ''`) keeps it (the
// table's parser judges it, naming the option), an option not in the table
// is one ERROR, and so are too many or too few arguments.
import minimist from 'minimist';
import { type SettingSpec, rejectUnknownOptions, truthy, valueFlags } from './cli.ts';
import { die } from './log.ts';

interface Positionals {
  min: number;
  max: number;
  /** What they are, for the ERROR: e.g. 'one rootfs directory or distro name'. */
  what: string;
}

export function parseCommandLine(specs: Record<string, SettingSpec<any>>, argv: string[], positionals: Positionals): minimist.ParsedArgs {
  const all = Object.values(specs).flatMap((s) => (s.flag ? [s.flag] : []));
  const values = valueFlags(specs);
  const flags = Object.values(specs).flatMap((s) => (s.flag && s.parse === truthy ? [s.flag] : []));
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    // minimist moves an empty value (`-r ''`) into the positionals; keep it on its option.
    const name = a.replace(/^--?/, '');
    if (a === '--help' && all.includes('h')) args.push('-h');
    else if (a !== name && values.includes(name) && argv[i + 1] === '') {
      args.push(`--${name}=`);
      i++;
    } else args.push(a);
  }
  const opts = minimist(args, { string: values, boolean: flags });
  rejectUnknownOptions(opts, all);
  opts._ = opts._.map(String);
  if (opts._.length > positionals.max) die(`too many arguments: ${opts._.join(' ')}; give ${positionals.what}`);
  if (opts._.length < positionals.min) die(`give ${positionals.what}: see -h`);
  return opts;
}
