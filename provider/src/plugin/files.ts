/** Files the plugin ships beside its code: found by walking up from the compiled module (repo or plugin dir). */
import * as fs from "node:fs";
import * as path from "node:path";

export function findUp(name: string, start = __dirname): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    const p = path.join(dir, name);
    if (fs.existsSync(p)) return p;
    if (path.dirname(dir) === dir) throw new Error(`wgmesh plugin: ${name} not found above ${start}`);
  }
}

/** The package version (package.json), which is the plugin's and the schema's version. */
export function packageVersion(): string {
  return (JSON.parse(fs.readFileSync(findUp("package.json"), "utf8")) as { version: string }).version;
}
