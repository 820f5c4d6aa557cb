// One benchmark server process: `node bench/http/server.mjs '{"framework":…,"contender":…}'`.
// Prints `READY <port>` once listening; on SIGTERM or SIGINT prints `STATS {…}` and exits
// (exiting is also what makes `--cpu-prof` write its profile).

const config = JSON.parse(process.argv[2]);
const stats = { framework: config.framework, contender: config.contender };
const mod = await import(`./${config.framework}.mjs`);
if (!mod.contenders.includes(config.contender)) {
  throw new Error(`unknown contender ${config.contender} for ${config.framework}: ${mod.contenders.join(', ')}`);
}
const app = await mod.build(config.contender, config, stats);
const server = await app.listen();
server.keepAliveTimeout = 60_000;

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  try {
    await stats.flush?.();
  } catch {
    // counted spans are a sanity check only
  }
  const { flush: _flush, ...report } = stats;
  process.stdout.write(`STATS ${JSON.stringify(report)}\n`, () => process.exit(0));
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdout.write(`READY ${server.address().port}\n`);
