/**
 * The one place where values become shell words. Every remote command of the project is assembled
 * from `shellQuote`d words (or `shellCommand`), so no value can ever be interpreted by a shell.
 */

/** POSIX single-quote a word: safe for any byte string without NUL. */
export function shellQuote(word: string | number): string {
  const s = String(word);
  if (s.includes("\0")) throw new Error("a shell word cannot contain a NUL byte");
  if (s !== "" && /^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Join words into one command line, quoting each. */
export function shellCommand(...words: Array<string | number>): string {
  return words.map(shellQuote).join(" ");
}
