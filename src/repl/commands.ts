// The REPL's commands: names, aliases and the `:?` text.

export interface CommandInfo {
  names: string[];
  arg: string;
  help: string;
}

export const COMMANDS: CommandInfo[] = [
  { names: [':a', ':add'], arg: '<expr>', help: 'Add attributes from resulting set to scope' },
  { names: [':b', ':build'], arg: '<expr>', help: 'Build a derivation' },
  { names: [':bl'], arg: '<expr>', help: 'Build a derivation, creating GC roots (./repl-result-*) in the working directory' },
  { names: [':e', ':edit'], arg: '<expr>', help: 'Open package, file or function in $EDITOR' },
  { names: [':l', ':load'], arg: '<path>', help: 'Load Nix expression and add it to scope' },
  { names: [':lf', ':load-flake'], arg: '<ref>', help: 'Load Nix flake and add it to scope (not supported)' },
  { names: [':p', ':print'], arg: '<expr>', help: 'Evaluate and print expression recursively; strings are printed directly, without escaping' },
  { names: [':q', ':quit'], arg: '', help: 'Exit the REPL' },
  { names: [':r', ':reload'], arg: '', help: 'Reload all files' },
  { names: [':s', ':sh'], arg: '<expr>', help: 'Build dependencies of derivation, then start nix-shell (not supported yet)' },
  { names: [':t', ':type'], arg: '<expr>', help: 'Describe result of evaluation' },
  { names: [':u'], arg: '<expr>', help: 'Build derivation, then start nix-shell (not supported yet)' },
  { names: [':x', ':explore'], arg: '<expr>', help: 'Explore a value interactively (arrows open and close, Esc returns)' },
  { names: [':doc'], arg: '<expr>', help: 'Show documentation of a builtin function' },
  { names: [':log'], arg: '<expr>', help: 'Show logs for a derivation' },
  { names: [':te', ':trace-enable'], arg: '[bool]', help: 'Enable, disable or toggle showing traces for errors' },
  { names: [':?', ':help'], arg: '', help: 'Brings up this help menu' },
];

/** Every command name (for completion). */
export const COMMAND_NAMES: string[] = COMMANDS.flatMap((c) => c.names).sort();

export function helpText(): string {
  const rows: [string, string][] = [
    ['<expr>', 'Evaluate and print expression'],
    ['<x> = <expr>', 'Bind expression to variable'],
    ...COMMANDS.map((c): [string, string] => [`${c.names.join(', ')}${c.arg ? ' ' + c.arg : ''}`, c.help]),
  ];
  const w = Math.max(...rows.map((r) => r[0].length)) + 2;
  const lines = rows.map(([a, b]) => `  ${a.padEnd(w)} ${b}`);
  return `The following commands are available:\n\n${lines.join('\n')}\n`;
}
