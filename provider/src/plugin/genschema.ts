/**
 * Writes schema.json from the TypeScript description (./schema.ts) with the version of package.json.
 *   node dist/provider/src/plugin/genschema.js [OUT]   (default: schema.json at the repo root)
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { findUp, packageVersion } from "./files";
import { schemaText } from "./schema";

export function main(argv: string[]): number {
  const out = argv[0] ?? path.join(path.dirname(findUp("package.json")), "schema.json");
  fs.writeFileSync(out, schemaText(packageVersion()));
  console.log(`wgmesh: wrote ${out}`);
  return 0;
}

if (require.main === module) process.exit(main(process.argv.slice(2)));
