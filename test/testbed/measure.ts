// Measures the testbed: boot time of N hosts (default 10) until every sshd answers, memory per host (PSS),
// reboot time, down time. Prints one JSON document. Usage: node dist/test/testbed/measure.js [N] [--nat M]
import { down, up } from "./testbed";

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 10);
  const natIdx = process.argv.indexOf("--nat");
  const nat = natIdx > 0 ? Number(process.argv[natIdx + 1]) : 0;
  const name = "tbmeasure";
  await down(name);
  const t0 = Date.now();
  const tb = await up(n, { nat, name });
  const upSeconds = (Date.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 5000)); // let every host settle before measuring memory
  const mem = await tb.memoryKiB();
  const values = Object.values(mem);
  const t1 = Date.now();
  await tb.reboot(tb.hosts[0].name);
  const rebootSeconds = (Date.now() - t1) / 1000;
  const t2 = Date.now();
  await down(name);
  const downSeconds = (Date.now() - t2) / 1000;
  process.stdout.write(
    JSON.stringify(
      {
        hosts: n + nat,
        upSeconds,
        rebootSeconds,
        downSeconds,
        pssKiBPerHostAvg: Math.round(values.reduce((a, b) => a + b, 0) / values.length),
        pssKiBPerHostMax: Math.max(...values),
      },
      null,
      2,
    ) + "\n",
  );
}

main().catch(async (e) => {
  process.stderr.write(`${(e as Error).message}\n`);
  await down("tbmeasure").catch(() => undefined);
  process.exit(1);
});
