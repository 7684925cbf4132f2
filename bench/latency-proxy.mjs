// A TCP proxy that adds a fixed one-way delay to every chunk in both directions, so that the
// benchmark can show what round trips cost once the database is not on loopback (a Docker
// network, a LAN, a hosted Supabase). Run as a child process by run.mjs:
//   node bench/latency-proxy.mjs <target-host> <target-port> <one-way-delay-ms>
// It prints {"port": N} on stdout once listening. Order is preserved: timers of equal duration
// fire in the order they were set.
import net from 'node:net';

const [host, port, delayArg] = process.argv.slice(2);
const delay = Number(delayArg);

function pipeDelayed(from, to) {
  from.on('data', (chunk) => {
    setTimeout(() => {
      if (!to.destroyed) to.write(chunk);
    }, delay);
  });
  from.on('end', () => setTimeout(() => to.end(), delay));
  from.on('error', () => to.destroy());
  from.on('close', () => setTimeout(() => to.destroy(), delay + 1));
}

const server = net.createServer((client) => {
  const upstream = net.connect(Number(port), host);
  client.setNoDelay(true);
  upstream.setNoDelay(true);
  pipeDelayed(client, upstream);
  pipeDelayed(upstream, client);
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
process.on('disconnect', () => process.exit(0));
