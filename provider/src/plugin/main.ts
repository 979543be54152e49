/**
 * `pulumi-resource-wgmesh`: the wgmesh provider plugin. Holds no logic: reads the generated schema.json and
 * the version from package.json, and serves the Provider (./provider) with `@pulumi/pulumi/provider`'s main
 * plus preview support (./serve).
 * The engine starts it with its own address as first argument.
 */
import * as fs from "node:fs";
import { findUp, packageVersion } from "./files";
import { makeProvider } from "./provider";
import { serve } from "./serve";

export async function main(args: string[]): Promise<void> {
  const version = packageVersion();
  const schema = fs.readFileSync(findUp("schema.json"), "utf8");
  const schemaVersion = (JSON.parse(schema) as { version?: string }).version;
  if (schemaVersion !== version) {
    throw new Error(`wgmesh plugin: schema.json has version ${schemaVersion}, package.json ${version}; regenerate it (make plugin-schema)`);
  }
  const engineAddress = args.find((a) => !a.startsWith("-"));
  await serve(makeProvider({ version, schema, engineAddress }), args);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: Error) => {
    console.error(err.message);
    process.exit(1);
  });
}
