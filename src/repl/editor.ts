// `:e`: the command line that opens a file in $EDITOR (as `nix repl` builds
// it: `cat` without EDITOR; `+LINE` for editors known to take it).

export function editorCommand(file: string, line: number, env: NodeJS.ProcessEnv = process.env): string[] {
  const editor = env.EDITOR && env.EDITOR.trim() !== '' ? env.EDITOR : 'cat';
  const args = editor.split(/\s+/).filter(Boolean);
  if (line > 0 && /emacs|nano|vim|kak|vi$|hx|helix/.test(editor)) args.push(`+${line}`);
  args.push(file);
  return args;
}
