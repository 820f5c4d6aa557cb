// The fallback load generator when wrk is unavailable: autocannon in its own process (pinned by
// the caller), printing the same WRKJSON line as bench/load/*.lua.
import autocannon from 'autocannon';

const config = JSON.parse(process.argv[2]);
let i = 0;
const nextIp = () => {
  i = (i % config.clients) + 1;
  if (i % config.floodEvery === 0) return '10.255.255.1';
  return `10.1.${Math.floor(i / 256) % 256}.${i % 256}`;
};

const options = { url: config.url, connections: config.connections, duration: config.seconds, timeout: 5 };
if (config.pattern === 'xff') {
  options.requests = [
    {
      setupRequest(req) {
        return { ...req, headers: { ...req.headers, 'x-forwarded-for': nextIp() } };
      },
    },
  ];
}

const result = await autocannon(options);
const completed = result['1xx'] + result['2xx'] + result['3xx'] + result['4xx'] + result['5xx'];
process.stdout.write(
  `WRKJSON ${JSON.stringify({
    requests: completed,
    durationUs: Math.round(result.duration * 1e6),
    non2xx: result['4xx'] + result['5xx'],
    connectErrors: result.errors - result.timeouts,
    timeouts: result.timeouts,
    p50Us: Math.round(result.latency.p50 * 1000),
    p99Us: Math.round(result.latency.p99 * 1000),
  })}\n`,
);
