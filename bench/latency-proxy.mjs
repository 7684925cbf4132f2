// A TCP proxy that adds a fixed one-way delay to every chunk in both directions, so that the
// benchmark can show what round trips cost once the database is not on loopback (a Docker
// network, a LAN, a hosted Supabase). Run as a child process by run.mjs:
//   node bench/latency-proxy.mjs <target-host> <target-port> <one-way-delay-ms>
// It prints {"port": N} on stdout once listening. Order is preserved: one timer per direction
// is pending at a time.
import net from 'node:net';

const [host, port, delayArg] = process.argv.slice(2);
const delay = Number(delayArg);

// Chunks that arrive while an earlier one is still held go out with it: libuv timers tick in
// whole milliseconds, so a chunk with a timer of its own could wait up to a millisecond longer
// than the one before it, which a real network would not do.
function pipeDelayed(from, to) {
  let held = null;
  const release = () => {
    const chunks = held;
    held = null;
    if (!to.destroyed) to.write(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
  };
  from.on('data', (chunk) => {
    if (held) {
      held.push(chunk);
    } else {
      held = [chunk];
      setTimeout(release, delay);
    }
  });
  from.on('end', () => setTimeout(() => to.end(), delay + 1));
  from.on('error', () => to.destroy());
  from.on('close', () => setTimeout(() => to.destroy(), delay + 2));
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
