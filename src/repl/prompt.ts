// The REPL's prompts (as `nix repl`'s): the first line of an input, and the
// lines that continue an incomplete one.
export const PROMPT = 'nix-repl> ';
export const CONTINUATION = '          ';
